"""The HTTP API gives the same decisions as the Python API, and answers every request as HTTP has it (loopback only)."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request

import pytest
from _service import raw, service_in_thread
from conftest import chat
from jsonschema import Draft202012Validator

from evaluator.resources import load_schema


@pytest.fixture()
def server(repo):
    with service_in_thread(repo) as (url, _):
        yield url


def post(url, body: str | bytes, headers: dict | None = None):
    data = body.encode("utf-8") if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method="POST", headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.read().decode("utf-8")


def without_ids(decisions: list[dict]) -> list[dict]:
    for d in decisions:
        assert isinstance(d.pop("decision_id"), str)
    return decisions


def test_evaluate_matches_python_api(server, repo):
    lines = [json.dumps(chat("a", "2024-03-04")), "not json", json.dumps(chat("b", "2024-03-05"))]
    status, body = post(server + "/evaluate", "\n".join(lines))
    assert status == 200
    decisions = [json.loads(x) for x in body.splitlines()]
    assert len({d["decision_id"] for d in decisions}) == 3
    assert without_ids(decisions) == repo.evaluate_lines(lines)
    validator = Draft202012Validator(load_schema("decision.schema.json"))
    status, body = post(server + "/evaluate", "\n".join(lines))
    for d in map(json.loads, body.splitlines()):
        assert not list(validator.iter_errors(d)) and d["provenance"] == repo.engine.provenance


def test_evaluate_one_matches_python_api(server, repo):
    history = [chat("a", "2024-03-04")]
    contact = chat("b", "2024-03-05")
    status, body = post(server + "/evaluate-one", json.dumps({"contact": contact, "history": history}))
    assert status == 200 and without_ids([json.loads(body)]) == [repo.evaluate_one(contact, history)]


def test_bad_requests_are_clear(server):
    with pytest.raises(urllib.error.HTTPError) as err:
        post(server + "/evaluate-one", "{")
    answer = json.loads(err.value.read())
    assert err.value.code == 400 and "not JSON" in answer["error"] and answer["code"] == "not_json"
    with pytest.raises(urllib.error.HTTPError) as err:
        post(server + "/nowhere", "")
    assert err.value.code == 404 and json.loads(err.value.read())["code"] == "not_found"
    with urllib.request.urlopen(server + "/policies", timeout=10) as resp:
        listed = json.loads(resp.read())
    assert {p["id"] for p in listed} == {"testland-chat", "testland-coding"}
    assert all(v["content_hash"].startswith("sha256:") for p in listed for v in p["versions"])


def test_evaluate_body_lines_are_split_at_line_feeds_only(server, repo):
    body = json.dumps(chat("a", "2024-03-04", note="x\u2028y"), ensure_ascii=False) + "\n" + json.dumps(chat("b", "2024-03-05"))
    status, text = post(server + "/evaluate", body)
    assert [json.loads(x)["status"] for x in text.splitlines()] == ["decided", "decided"]


def test_evaluate_one_reads_json_as_evaluate_does(server):
    for bad in ('{"contact": {"id": "\\ud800"}}', "[" * 100000, '{"contact": NaN}'):
        with pytest.raises(urllib.error.HTTPError) as err:
            post(server + "/evaluate-one", bad)
        assert err.value.code == 400
    status, body = post(server + "/evaluate-one", "\ufeff" + json.dumps({"contact": chat("a", "2024-03-04")}))
    assert status == 200 and json.loads(body)["status"] == "decided"
    # well-formed JSON orjson refuses (1e400): read as /evaluate reads it, the field named
    big = json.dumps({"contact": chat("a", "2024-03-04", duration_minutes=7)}).replace(": 7", ": 1e400")
    status, body = post(server + "/evaluate-one", big)
    assert status == 200 and [e["field"] for e in json.loads(body)["errors"]] == ["duration_minutes"]


def test_a_body_is_taken_with_a_length_or_chunked_or_refused_with_why(server, repo):
    contact = json.dumps(chat("a", "2024-03-04")).encode()
    half = len(contact) // 2
    # chunked, as curl -T -, httpx and requests with a generator send it: in two chunks
    chunked = (b"POST /evaluate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"%x\r\n%s\r\n" % (half, contact[:half]) + b"%x\r\n%s\r\n" % (len(contact) - half, contact[half:])
               + b"0\r\n\r\n")
    status, headers, body = raw(server, chunked)
    assert status == 200 and without_ids([json.loads(body)]) == repo.evaluate_lines([contact])
    cases = [
        (b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 2_2\r\n\r\n", 400, None),
        (b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 400, None),
        (b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413, "body_too_large"),
        (b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1\r\n\r\nx", 415,
         "unsupported_media_type"),
    ]
    for request, status, code in cases:
        got, headers, body = raw(server, request)
        assert got == status, (request[:60], got, body)
        if code:  # (a malformed header is refused by the server itself, before any route)
            assert json.loads(body)["code"] == code and headers["content-type"].startswith("application/json")


def test_expect_100_continue_is_answered_at_once(server):
    contact = json.dumps(chat("a", "2024-03-04")).encode()
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"POST /evaluate HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(contact))
        s.settimeout(0.5)  # curl waits a second for this before it sends anyway
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")


def test_methods_paths_and_keys_are_answered_as_http_has_them(server):
    status, headers, body = raw(server, b"GET /evaluate HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 405 and headers["allow"] == "POST" and "takes POST" in json.loads(body)["error"]
    status, headers, _ = raw(server, b"DELETE /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    status, headers, body = raw(server, b"HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and body == b"" and headers["content-length"] == "3"
    assert raw(server, b"GET /health?probe=1 HTTP/1.1\r\nHost: x\r\n\r\n")[2] == b"ok\n"
    assert raw(server, b"PUT /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 404
    typo = json.dumps({"contact": chat("a", "2024-03-04"), "histroy": []}).encode()
    status, _, body = raw(server, b"POST /evaluate-one HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(typo) + typo)
    assert status == 400 and "unknown key 'histroy' (did you mean 'history'?)" in json.loads(body)["error"]
    for history in ("false", "0", '""', "{}"):
        body = f'{{"contact": {json.dumps(chat("a", "2024-03-04"))}, "history": {history}}}'.encode()
        status, _, _ = raw(server, b"POST /evaluate-one HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        assert status == 400, history


def test_many_clients_at_once_are_all_answered(server, repo):
    lines = [json.dumps(chat("a", "2024-03-04")), json.dumps(chat("b", "2024-03-05"))]
    expected = repo.evaluate_lines(lines)
    start = threading.Barrier(50)
    answers: list = []

    def client():
        start.wait()
        answers.append(post(server + "/evaluate", "\n".join(lines)))

    threads = [threading.Thread(target=client) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 50
    # (max_concurrent_batches is 4 by default: the rest wait for a slot)
    for status, text in answers:
        assert status == 200 and without_ids([json.loads(x) for x in text.splitlines()]) == expected


def test_each_limit_is_refused_with_its_status_and_code(repo):
    with service_in_thread(repo, body_timeout_seconds=1, max_line_bytes=100, max_concurrent_batches=1,
                           batch_wait_seconds=0.2) as (url, _):
        # a client that stops sending: 408
        status, _, body = raw(url, b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\"")
        assert status == 408 and json.loads(body)["code"] == "body_timeout"
        # a line over max_line_bytes: 413, naming the line
        long = json.dumps(chat("a", "2024-03-04", note="x" * 200))
        with pytest.raises(urllib.error.HTTPError) as err:
            post(url + "/evaluate", "{}\n" + long)
        answer = json.loads(err.value.read())
        assert err.value.code == 413 and answer["code"] == "line_too_large" and "line 2" in answer["error"]
        # a second batch while one is being received: 503 with Retry-After
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as slow:
            slow.sendall(b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            threading.Event().wait(0.3)
            with pytest.raises(urllib.error.HTTPError) as err:
                post(url + "/evaluate", "{}")
            assert err.value.code == 503 and err.value.headers["Retry-After"] == "1"
            assert json.loads(err.value.read())["code"] == "too_many_batches"


def test_evaluate_one_takes_its_body_within_the_limits_as_evaluate_does(repo, caplog):
    """/evaluate-one is answered by its own handler, ahead of the router: its body is read
    as a batch's is (chunked or by length, within the limits), and a fault is a logged 500."""
    contact = json.dumps({"contact": chat("a", "2024-03-04")}).encode()
    half = len(contact) // 2
    with service_in_thread(repo, body_timeout_seconds=1, max_body_bytes=len(contact) + 10) as (url, holder):
        chunked = (b"POST /evaluate-one HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + b"%x\r\n%s\r\n" % (half, contact[:half]) + b"%x\r\n%s\r\n" % (len(contact) - half, contact[half:])
                   + b"0\r\n\r\n")
        status, headers, body = raw(url, chunked)
        assert status == 200 and without_ids([json.loads(body)]) == [repo.evaluate_one(chat("a", "2024-03-04"))]
        assert headers["content-type"] == "application/json" and int(headers["content-length"]) == len(body)
        over = b"x" * (len(contact) + 11)
        status, headers, body = raw(url, b"POST /evaluate-one HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    + b"%x\r\n%s\r\n0\r\n\r\n" % (len(over), over))
        assert status == 413 and json.loads(body)["code"] == "body_too_large" and headers["connection"] == "close"
        status, headers, body = raw(url, b"POST /evaluate-one HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        assert status == 408 and json.loads(body)["code"] == "body_timeout" and headers["connection"] == "close"
        status, _, body = raw(url, b"POST /evaluate-one HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{")
        assert status == 400

        class Broken:
            def evaluate_one(self, contact, history, own=False):
                raise KeyError(contact["patient"])  # (its value must not reach the answer or the log)
        holder.current = type(holder.current)(Broken(), holder.current.provenance, holder.current.provenance_json)
        with caplog.at_level("ERROR", logger="regelverk.service"):
            status, _, body = raw(url, b"POST /evaluate-one HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                                  % len(contact) + contact)
        assert status == 500 and json.loads(body)["code"] == "internal_error" and b"p1" not in body
        assert "internal error on POST /evaluate-one: KeyError" in caplog.text


def test_every_route_is_in_the_openapi_document_and_it_is_valid(server):
    from openapi_spec_validator import validate

    with urllib.request.urlopen(server + "/openapi.json", timeout=10) as resp:
        document = json.loads(resp.read())
    validate(document)
    assert document["openapi"].startswith("3.1")
    from evaluator.resources import load_schema as schema

    assert document["components"]["schemas"]["Contact"]["properties"] == schema("contact.schema.json")["properties"]
    # A batch's body in every format the service reads, each a media type it takes; any route
    # may answer the JSON 500.
    from evaluator.running.formats import MEDIA_ALIASES
    from evaluator.service.readers import reader_for

    bodies = document["paths"]["/evaluate"]["post"]["requestBody"]["content"]
    assert all(reader_for(media) is not None for media in bodies)
    assert {MEDIA_ALIASES[m] for m in bodies if m in MEDIA_ALIASES} == {"ndjson", "csv", "parquet"}
    assert all("500" in operation["responses"] for operations in document["paths"].values()
               for operation in operations.values())
    with urllib.request.urlopen(server + "/docs", timeout=10) as resp:
        page = resp.read().decode()
    assert "openapi.json" in page and "http://" not in page and "https://" not in page  # works offline
    status, _, body = raw(server, b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
    routes = json.loads(body)["error"].split("; there are ")[1].split(", ")
    assert sorted(routes) == sorted(document["paths"])


def test_a_compressed_body_is_refused_and_a_slash_too_many_is_no_route(server):
    """A body sent with Content-Encoding gzip is not read as NDJSON (every line invalid): 415 on
    both routes, the connection closed. `/evaluate/` is a 404 in JSON, not a redirect whose
    Location is built from the client's Host header."""
    import gzip

    line = json.dumps(chat("a", "2024-03-04")).encode()
    for path, body in (("/evaluate", gzip.compress(line + b"\n")),
                       ("/evaluate-one", gzip.compress(json.dumps({"contact": chat("a", "2024-03-04")}).encode()))):
        request = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                   f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
        status, headers, answer = raw(server, request)
        assert (status, json.loads(answer)["code"], headers.get("connection")) == (415, "unsupported_media_type", "close")
        assert "Content-Encoding gzip is not read" in json.loads(answer)["error"]
    identity = (f"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Encoding: identity\r\nContent-Length: {len(line)}\r\n"
                "Connection: close\r\n\r\n").encode() + line
    status, _, answer = raw(server, identity)
    assert status == 200 and json.loads(answer)["status"] == "decided"
    for method, path in (("POST", "/evaluate/"), ("GET", "/health/")):
        status, headers, answer = raw(server, f"{method} {path} HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 0\r\n"
                                      "Connection: close\r\n\r\n".encode())
        assert (status, json.loads(answer)["code"]) == (404, "not_found") and "location" not in headers
