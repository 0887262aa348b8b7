"""The decision service beyond its routes: logs, reload without downtime, workers, shutdown, memory."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from _service import replace_a_worker, service_in_thread, service_process, workers_of
from conftest import chat

from evaluator import load_repository
from evaluator.service.settings import SettingsError, service_settings

CHAT_2 = Path("testland") / "testland-chat" / "2.0.yaml"
PERSONNUMMER = "19121212-1212"


def post(url, body, headers=None, timeout=30):
    data = body.encode("utf-8") if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method="POST", headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, resp.read().decode("utf-8")


def get_json(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def test_settings_come_from_the_file_then_the_environment_then_options():
    s = service_settings({"port": 9000, "max_body_bytes": 1000, "decision_log_mask": ["patient", "unit"]},
                         environ={"REGELVERK_PORT": "9001", "REGELVERK_DECISION_LOG": "off"}, workers=3)
    assert (s.port, s.max_body_bytes, s.decision_log_mask, s.decision_log, s.workers) == \
        (9001, 1000, ("patient", "unit"), False, 3)
    with pytest.raises(SettingsError, match="did you mean 'max_body_bytes'"):
        service_settings({"max_body_byte": 3}, environ={})
    with pytest.raises(SettingsError, match="REGELVERK_WORKERS"):
        service_settings({}, environ={"REGELVERK_WORKERS": "many"})


def test_logs_carry_no_personal_identifier(repo, caplog):
    secret_patient = "pseudo-7f3a"
    contacts = [chat("a", "2025-03-04", patient=secret_patient), chat("b", "2025-03-05", patient=PERSONNUMMER)]
    with caplog.at_level(logging.INFO), service_in_thread(repo, admin_token="t0ken") as (url, _):
        status, body = post(url + "/evaluate?patient=" + PERSONNUMMER,
                            "\n".join(json.dumps(c) for c in contacts) + "\nnot json " + PERSONNUMMER)
        batch = [json.loads(x) for x in body.splitlines()]
        status, body = post(url + "/evaluate-one", json.dumps({"contact": contacts[1], "history": [contacts[0]]}))
        one = json.loads(body)
    assert [d["status"] for d in batch] == ["decided", "invalid", "invalid"] and one["status"] == "invalid"
    assert PERSONNUMMER not in json.dumps(batch) + json.dumps(one)
    decisions = [json.loads(r.getMessage()) for r in caplog.records if r.name == "regelverk.decisions"]
    access = [json.loads(r.getMessage()) for r in caplog.records if r.name == "regelverk.access"]
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert PERSONNUMMER not in everything and PERSONNUMMER.replace("-", "") not in everything
    assert secret_patient not in everything  # masked by default (decision_log_mask: patient)
    # one log line per decision, under the decision's id, with its provenance and outputs
    assert [d["decision_id"] for d in decisions] == [d["decision_id"] for d in batch] + [one["decision_id"]]
    for logged, given in zip(decisions, batch + [one], strict=True):
        assert logged["provenance"] == given["provenance"] and logged["outputs"] == given["outputs"]
        assert logged["time"].endswith("+00:00")
    assert decisions[0]["input"]["patient"] == "***" and decisions[0]["input"]["unit"] == "u1"
    assert decisions[2]["input"] is None  # a line that was not JSON is not logged at all
    assert [(a["method"], a["route"], a["status"]) for a in access] == [("POST", "/evaluate", 200),
                                                                       ("POST", "/evaluate-one", 200)]
    assert all(set(a) == {"time", "method", "route", "status", "latency_ms", "bytes"} and a["bytes"] > 0 for a in access)


def test_the_mask_is_a_setting_and_a_refused_patient_is_masked_whatever_it_says(repo, caplog):
    with caplog.at_level(logging.INFO), service_in_thread(repo, decision_log_mask=("unit",)) as (url, _):
        post(url + "/evaluate", json.dumps(chat("a", "2025-03-04")) + "\n"
             + json.dumps(chat("b", "2025-03-05", patient=PERSONNUMMER)))
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "regelverk.decisions"]
    assert logged[0]["input"]["unit"] == "***" and logged[0]["input"]["patient"] == "p1"
    assert logged[1]["input"]["patient"] == "***"


def test_evaluate_one_logs_the_contact_as_it_was_sent_not_as_it_was_typed(repo, caplog):
    # (the service types the parsed contact in place: the log must show what came)
    contact = chat("c", "2025-03-06")
    history = [chat("a", "2025-03-04"), chat("b", "2025-03-05")]
    with caplog.at_level(logging.INFO), service_in_thread(repo, decision_log_mask=()) as (url, _):
        status, body = post(url + "/evaluate-one", json.dumps({"contact": contact, "history": history}))
    one = json.loads(body)
    assert status == 200 and one["status"] == "decided"
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "regelverk.decisions"]
    assert [d["decision_id"] for d in logged] == [one["decision_id"]]
    assert logged[0]["input"] == contact


def test_an_input_nested_too_deep_to_log_is_still_decided_and_logged(repo, caplog):
    """A contact with a value nested 300 levels (the reader takes 1024, orjson writes about 250)
    is decided with the rest of its batch, and its log line says its input was not written,
    instead of the whole batch answering 500."""
    deep = chat("deep", "2025-03-05")
    lines = [json.dumps(chat("a", "2025-03-04")), json.dumps(deep)[:-1] + ', "note": ' + "[" * 300 + "]" * 300 + "}",
             json.dumps(chat("b", "2025-03-06"))]
    with caplog.at_level(logging.INFO), service_in_thread(repo, decision_log_mask=()) as (url, _):
        status, body = post(url + "/evaluate", "\n".join(lines))
        status_one, one = post(url + "/evaluate-one", '{"contact": ' + json.dumps(chat("c", "2025-03-07"))[:-1]
                               + ', "note": ' + "[" * 300 + "]" * 300 + "}}")
    assert (status, status_one) == (200, 200)
    batch = [json.loads(x) for x in body.splitlines()]
    assert [d["contact"] for d in batch] == ["a", "deep", "b"]
    assert json.loads(one)["contact"] == "c"
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "regelverk.decisions"]
    assert [d["contact"] for d in logged] == ["a", "deep", "b", "c"]
    assert [d["input"] == "(not logged: nested too deep to write)" for d in logged] == [False, True, False, True]


def _policies_copy(fixture_policies, where: Path) -> Path:
    target = where / "policies"
    shutil.copytree(fixture_policies, target)
    return target


def _change_a_rule(policies: Path) -> None:
    path = policies / CHAT_2
    path.write_text(path.read_text(encoding="utf-8").replace("per_rolling: 2", "per_rolling: 3"), encoding="utf-8")


def test_reload_under_load_drops_no_request_and_each_decision_names_its_set(fixture_policies, tmp_path):
    policies = _policies_copy(fixture_policies, tmp_path)
    repo = load_repository(policies)
    old = repo.engine.provenance["policy_set_hash"]
    _change_a_rule(policies)
    new = load_repository(policies).engine.provenance["policy_set_hash"]
    assert old != new
    history = [chat(f"h{k}", f"2025-03-{k + 1:02d}") for k in range(2)]
    body = json.dumps({"contact": chat("c", "2025-03-10"), "history": history})
    seen: list = []
    failures: list = []
    stop = threading.Event()
    with service_in_thread(repo, policies, admin_token="s3cret") as (url, holder):
        def client():
            while not stop.is_set():
                try:
                    status, text = post(url + "/evaluate-one", body)
                    d = json.loads(text)
                    seen.append((time.monotonic(), d["provenance"]["policy_set_hash"], d["outputs"]["reimbursable"]))
                except Exception as exc:  # noqa: BLE001 - every failure is counted
                    failures.append(repr(exc))
        clients = [threading.Thread(target=client) for _ in range(4)]
        for c in clients:
            c.start()
        time.sleep(0.5)
        with pytest.raises(urllib.error.HTTPError) as err:
            post(url + "/admin/reload", b"", {"Authorization": "Bearer wrong"})
        assert err.value.code == 401
        status, text = post(url + "/admin/reload", b"", {"Authorization": "Bearer s3cret"})
        swapped = time.monotonic()
        assert status == 200 and json.loads(text) == {"policy_set_hash": new, "previous": old}
        time.sleep(0.5)
        # a broken set is refused with its problems; the new set keeps serving
        path = policies / CHAT_2
        path.write_text(path.read_text(encoding="utf-8").replace("when: count", "when: cuont"), encoding="utf-8")
        with pytest.raises(urllib.error.HTTPError) as err:
            post(url + "/admin/reload", b"", {"Authorization": "Bearer s3cret"})
        refused = json.loads(err.value.read())
        assert err.value.code == 422 and refused["code"] == "policy_set_invalid"
        assert any("2.0.yaml" in p for p in refused["problems"]) and refused["policy_set_hash"] == new
        time.sleep(0.3)
        stop.set()
        for c in clients:
            c.join()
        assert get_json(url + "/policy-set")["provenance"]["policy_set_hash"] == new
    assert not failures, failures[:3]
    assert len(seen) > 20
    # the old set decided reimbursable false (2 earlier in 12 months), the new one true (cap 3)
    assert {(h, r) for _, h, r in seen} == {(old, False), (new, True)}
    assert all(h == new for t, h, _ in seen if t > swapped + 0.05)


def test_sighup_reloads_every_worker_and_sigterm_lets_requests_finish(fixture_policies, tmp_path):
    policies = _policies_copy(fixture_policies, tmp_path)
    old = load_repository(policies).engine.provenance["policy_set_hash"]
    with service_process("--policies", str(policies), "--workers", "2",
                         env={"REGELVERK_DECISION_LOG": "off", "REGELVERK_ACCESS_LOG": "off"}) as (url, process):
        workers = set()
        for _ in range(40):  # connections are spread over both workers
            workers.add(get_json(url + "/policy-set")["provenance"]["policy_set_hash"])
        assert workers == {old}
        _change_a_rule(policies)
        new = load_repository(policies).engine.provenance["policy_set_hash"]
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while True:
            answers = [get_json(url + "/health/ready")["policy_set_hash"] for _ in range(20)]
            if set(answers) == {new}:
                break
            assert time.monotonic() < deadline, answers
            time.sleep(0.2)
        # a broken set: refused, logged with its problem, the set before keeps serving
        (policies / CHAT_2).write_text("id: [", encoding="utf-8")
        process.send_signal(signal.SIGHUP)
        time.sleep(3)
        assert {get_json(url + "/health/ready")["policy_set_hash"] for _ in range(20)} == {new}
        assert any("reload refused" in line for line in process.stderr_lines)
        # a batch in flight when SIGTERM comes is answered in full
        big = "\n".join(json.dumps(chat(f"c{k}", "2025-03-04", patient=f"p{k % 500}")) for k in range(30000))
        answer: dict = {}

        def send():
            answer["status"], answer["text"] = post(url + "/evaluate", big, timeout=120)
        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        sender.join(120)
        assert answer["status"] == 200 and len(answer["text"].splitlines()) == 30000
        assert process.wait(60) == 0


def _served_hashes(url: str, ask: int = 20) -> set:
    """The policy sets the workers answer with, over `ask` fresh connections."""
    return {get_json(url + "/health/ready")["policy_set_hash"] for _ in range(ask)}


def _until_all_serve(url: str, wanted: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while (seen := _served_hashes(url)) != {wanted}:
        assert time.monotonic() < deadline, seen
        time.sleep(0.2)


def test_a_sighup_while_workers_start_and_a_worker_started_after_one_serve_the_new_set(fixture_policies, tmp_path):
    """A SIGHUP that comes while the workers are still starting is not lost (each reloads once
    it can), and a worker started in place of one that died after a reload serves the set on
    disk, not the one the supervisor loaded first."""
    import os
    import subprocess
    import sys

    from _service import wait_until_ready

    policies = _policies_copy(fixture_policies, tmp_path)
    _change_a_rule(policies)  # the set the supervisor loads ...
    first = load_repository(policies).engine.provenance["policy_set_hash"]
    process = subprocess.Popen([sys.executable, "-m", "evaluator", "serve", "--port", "0", "--workers", "2",
                                "--policies", str(policies)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True, env={**os.environ, "REGELVERK_DECISION_LOG": "off",
                                               "REGELVERK_ACCESS_LOG": "off"})
    try:
        for line in process.stderr:
            if "serving on" in line:
                url = line.split("serving on ", 1)[1].split()[0]
                break
        # ... and at once, before the workers serve, another set and a SIGHUP
        path = policies / CHAT_2
        path.write_text(path.read_text(encoding="utf-8").replace("per_rolling: 3", "per_rolling: 4"),
                        encoding="utf-8")
        process.send_signal(signal.SIGHUP)
        threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
        second = load_repository(policies).engine.provenance["policy_set_hash"]
        assert second != first
        wait_until_ready(url)
        _until_all_serve(url, second)
        # a worker that dies is replaced by one that serves the set on disk
        replace_a_worker(process.pid, seconds=30)
        _until_all_serve(url, second)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def test_a_stop_while_a_dead_worker_is_replaced_stops_the_new_worker_too(fixture_policies):
    env = {"REGELVERK_DECISION_LOG": "off", "REGELVERK_ACCESS_LOG": "off"}
    with service_process("--policies", str(fixture_policies), "--workers", "2", env=env) as (url, process):
        seen = workers_of(process.pid)
        os.kill(min(seen), signal.SIGKILL)
        time.sleep(0.05)  # (the supervisor waits a moment before it starts another)
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while process.poll() is None:  # (a worker started after the stop would keep it waiting)
            try:
                seen |= workers_of(process.pid)
            except OSError:  # (it ended meanwhile)
                pass
            assert time.monotonic() < deadline, f"the supervisor did not end; its workers: {seen}"
            time.sleep(0.05)
        assert process.returncode == 0
    assert not [pid for pid in seen if Path(f"/proc/{pid}").exists()]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


def test_memory_stays_flat_over_10000_batches_with_unreadable_lines(repo):
    import http.client

    body = "\n".join([json.dumps(chat("a", "2025-03-04")), "not json {", "\xff", json.dumps(chat("b", "2025-03-05"))])
    data = body.encode("utf-8", "surrogateescape")
    with service_in_thread(repo, decision_log=False, access_log=False) as (url, _):
        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)

        def batch():
            connection.request("POST", "/evaluate", data, {"Content-Type": "application/x-ndjson"})
            answer = connection.getresponse()
            text = answer.read()
            assert answer.status == 200 and text.count(b"\n") == 4
        for _ in range(500):  # warm up: imports, caches, the allocator's arenas
            batch()
        start = _rss_bytes()
        for _ in range(10_000):
            batch()
        end = _rss_bytes()
        connection.close()
    assert end <= start * 1.2, (start, end)


def test_serve_reads_its_settings_section_and_refuses_an_unknown_setting(tmp_path, fixture_policies):
    import subprocess
    import sys

    shutil.copytree(fixture_policies, tmp_path / "policies")
    (tmp_path / "regelverk.yaml").write_text("regelverk: 1\npolicies: policies\nserve:\n  max_body_byte: 10\n",
                                             encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "evaluator", "serve", "--port", "0"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unknown setting 'max_body_byte' (did you mean 'max_body_bytes'?)" in done.stderr
    (tmp_path / "regelverk.yaml").write_text("regelverk: 1\npolicies: policies\nserve:\n  max_body_bytes: 10\n",
                                             encoding="utf-8")
    import os

    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        with service_process() as (url, _):
            with pytest.raises(urllib.error.HTTPError) as err:
                post(url + "/evaluate", json.dumps(chat("a", "2025-03-04")))
            assert err.value.code == 413 and "at most 10 are taken" in json.loads(err.value.read())["error"]
            assert get_json(url + "/policy-set")["provenance"]["policy_set_hash"] == \
                load_repository(tmp_path / "policies").engine.provenance["policy_set_hash"]
    finally:
        os.chdir(here)


def test_unusable_serve_settings_stop_with_a_message_not_a_traceback(tmp_path):
    """A port taken or out of range, a host that is none, a log_config missing or unreadable:
    exit 2 with a message naming it, before the service says it is serving (docs/service.md)."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = str(taken.getsockname()[1])
    (tmp_path / "bad.json").write_text('{"version": 1, "bogus":')
    (tmp_path / "list.yaml").write_text("- version: 1\n")
    (tmp_path / "good.json").write_text(json.dumps({"version": 1, "disable_existing_loggers": False}))
    cases = [
        (["--port", port], {}, f"cannot listen on 127.0.0.1 port {port}: Address already in use"),
        (["--host", "999.1.1.1", "--port", "0"], {}, "cannot listen on 999.1.1.1 port 0"),
        ([], {"REGELVERK_PORT": "99999"}, "'port' cannot be '99999': it is a whole number (at least 1; a port from 0 to 65535)"),
        (["--port", "0"], {"REGELVERK_LOG_CONFIG": str(tmp_path / "none.json")}, "log_config: cannot read"),
        (["--port", "0"], {"REGELVERK_LOG_CONFIG": str(tmp_path / "bad.json")}, "is not a logging configuration uvicorn can read"),
        (["--port", "0"], {"REGELVERK_LOG_CONFIG": str(tmp_path / "list.yaml")}, "is not a logging configuration: a JSON or YAML mapping"),
    ]
    try:
        for args, env, message in cases:
            done = subprocess.run([sys.executable, "-m", "evaluator", "serve", *args], capture_output=True, text=True,
                                  env={**os.environ, **env}, timeout=60)
            assert done.returncode == 2, (args, env, done.stderr)
            assert message in done.stderr and "Traceback" not in done.stderr and "serving on" not in done.stderr, done.stderr
    finally:
        taken.close()
    with service_process(env={"REGELVERK_LOG_CONFIG": str(tmp_path / "good.json")}) as (url, _):
        assert get_json(url + "/health/live")
