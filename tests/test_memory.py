"""Memory stays flat: reading bad input leaves no reference cycle behind (issue 13, item 6).

The engine pauses the cyclic collector during a batch, so a cycle made while reading (an
exception whose traceback holds the reading frame, which holds the exception) kept the whole
batch alive until the collector ran again. gc.collect() returns how many unreachable objects
it found: with the collector off during the call, that is every cycle the call left behind.
"""

from __future__ import annotations

import gc
import io
import json

import pytest
from click.testing import CliRunner
from conftest import chat

from evaluator.cli import main
from evaluator.running.ndjson import parse_ndjson, read_json

BAD = [b"not json", b'{"a":', b"\xff\xfe", b'{"x": 1e400', b"[1, 2", b"NaN", b'{"id": "\\ud800"}', b""]


@pytest.fixture()
def collector_off():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_reading_bad_lines_leaves_no_cycle(collector_off, repo):
    records, errors = parse_ndjson(BAD * 50)
    assert len(errors) == len(BAD) * 50
    del records, errors
    assert gc.collect() == 0
    for line in BAD:
        with pytest.raises(ValueError):
            read_json(line)
    assert gc.collect() == 0


def test_the_api_and_the_cli_leave_no_cycle_on_bad_input(collector_off, repo, fixture_policies, tmp_path):
    text = b"\n".join([*BAD, json.dumps(chat("a", "2025-03-04")).encode()] * 20) + b"\n"
    decisions = repo.evaluate_lines(text)
    assert len(decisions) == 9 * 20 and decisions[0]["status"] == decisions[7]["status"] == "invalid"
    del decisions
    repo.write_ndjson(text, io.BytesIO())
    assert len(repo.evaluate_to_ndjson(text)) == 9 * 20
    assert repo.evaluate_one({"id": "x"})["status"] == "invalid"
    assert gc.collect() == 0
    # The command loads its policies each time, which leaves the YAML loader's own cycles (a
    # fixed number): what is left must not grow with the input.
    left = []
    for copies in (1, 10):
        source = tmp_path / f"in-{copies}.ndjson"
        source.write_bytes(text * copies)
        out = CliRunner().invoke(main, ["evaluate", str(source), "--policies", str(fixture_policies), "--jobs", "1"])
        assert out.exit_code == 0 and len(out.stdout_bytes.splitlines()) == 9 * 20 * copies
        del out
        left.append(gc.collect())
    assert left[0] == left[1]
