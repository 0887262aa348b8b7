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
