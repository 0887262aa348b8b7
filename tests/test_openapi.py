"""Schemathesis against the live service: every operation, a bounded number of examples, no 5xx,
every answer as the OpenAPI document says (status, content type, schema)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from _service import service_process


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(fixture_policies, tmp_path):
    executable = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    assert Path(executable).exists(), "schemathesis is in the test extra: pip install '.[test]'"
    token = "schemathesis-admin"
    env = {"REGELVERK_ADMIN_TOKEN": token, "REGELVERK_DECISION_LOG": "off", "REGELVERK_ACCESS_LOG": "off"}
    with service_process("--policies", str(fixture_policies), env=env) as (url, _):
        done = subprocess.run(
            [executable, "run", url + "/openapi.json",
             "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,"
                         "content_type_conformance,response_headers_conformance",
             "--max-examples", "25", "--seed", "1", "--workers", "1",
             "-H", f"Authorization: Bearer {token}"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "9 selected / 9 total" in done.stdout or "Tested: 9" in done.stdout, done.stdout[-3000:]
