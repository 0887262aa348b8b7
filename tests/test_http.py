"""The HTTP API gives the same decisions as the Python API (on loopback only)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from conftest import chat

from evaluator.http import make_server


@pytest.fixture()
def server(repo):
    srv = make_server(repo, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    srv.server_close()


def post(url, body: str):
    req = urllib.request.Request(url, data=body.encode("utf-8"), method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read().decode("utf-8")


def test_evaluate_matches_python_api(server, repo):
    lines = [json.dumps(chat("a", "2024-03-04")), "not json", json.dumps(chat("b", "2024-03-05"))]
    status, body = post(server + "/evaluate", "\n".join(lines))
    assert status == 200
    assert [json.loads(x) for x in body.splitlines()] == repo.evaluate_lines(lines)


def test_evaluate_one_matches_python_api(server, repo):
    history = [chat("a", "2024-03-04")]
    contact = chat("b", "2024-03-05")
    status, body = post(server + "/evaluate-one", json.dumps({"contact": contact, "history": history}))
    assert status == 200 and json.loads(body) == repo.evaluate_one(contact, history)


def test_bad_requests_are_clear(server):
    with pytest.raises(urllib.error.HTTPError) as err:
        post(server + "/evaluate-one", "{")
    assert err.value.code == 400 and "not JSON" in err.value.read().decode()
    with pytest.raises(urllib.error.HTTPError) as err:
        post(server + "/nowhere", "")
    assert err.value.code == 404
    with urllib.request.urlopen(server + "/policies", timeout=10) as resp:
        assert {p["id"] for p in json.loads(resp.read())} == {"testland-chat", "testland-coding"}


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


def raw(url: str, request: bytes, close_write: bool = True) -> tuple[int, dict, bytes]:
    """Send `request` as it is; the status, headers and body of the answer."""
    import socket

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(request)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


def test_a_body_is_read_whole_or_refused_with_why(server):
    one = json.dumps({"contact": chat("a", "2024-03-04")}).encode()
    cases = [
        (b"POST /evaluate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411, "chunked"),
        (b"POST /evaluate-one HTTP/1.1\r\n\r\n" + one, 411, "Content-Length"),
        (b"POST /evaluate-one HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (len(one) + 10) + one, 400,
         f"the body ended after {len(one)} of its {len(one) + 10} bytes"),
        (b"POST /evaluate HTTP/1.1\r\nContent-Length: 2_2\r\n\r\n", 400, "one whole number"),
        (b"POST /evaluate HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 400, "not 3, 4"),
        (b"POST /evaluate HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413, "at most"),
    ]
    for request, status, words in cases:
        got, headers, body = raw(server, request)
        assert got == status and words in json.loads(body)["error"], (request[:40], got, body)
        assert headers["Content-Type"].startswith("application/json")


def test_methods_paths_and_keys_are_answered_as_http_has_them(server):
    status, headers, body = raw(server, b"GET /evaluate HTTP/1.1\r\n\r\n")
    assert status == 405 and headers["Allow"] == "POST" and "takes POST" in json.loads(body)["error"]
    status, headers, _ = raw(server, b"DELETE /health HTTP/1.1\r\n\r\n")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    status, headers, body = raw(server, b"HEAD /health HTTP/1.1\r\n\r\n")
    assert status == 200 and body == b"" and headers["Content-Length"] == "3"
    assert raw(server, b"GET /health?probe=1 HTTP/1.1\r\n\r\n")[2] == b"ok\n"
    assert raw(server, b"PUT /nowhere HTTP/1.1\r\n\r\n")[0] == 404
    typo = json.dumps({"contact": chat("a", "2024-03-04"), "histroy": []}).encode()
    status, _, body = raw(server, b"POST /evaluate-one HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(typo) + typo)
    assert status == 400 and "unknown key 'histroy' (did you mean 'history'?)" in json.loads(body)["error"]
    for history in ("false", "0", '""', "{}"):
        body = f'{{"contact": {json.dumps(chat("a", "2024-03-04"))}, "history": {history}}}'.encode()
        status, _, _ = raw(server, b"POST /evaluate-one HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
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
    assert all(status == 200 and [json.loads(x) for x in text.splitlines()] == expected for status, text in answers)


def test_a_client_that_stops_sending_gets_408(repo, monkeypatch):
    from evaluator import http

    monkeypatch.setattr(http, "TIMEOUT", 1)
    srv = make_server(repo, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        status, _, body = raw(f"http://127.0.0.1:{srv.server_port}",
                              b"POST /evaluate HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"id\"", close_write=False)
        assert status == 408 and "did not arrive within 1 s" in json.loads(body)["error"]
    finally:
        srv.shutdown()
        srv.server_close()
