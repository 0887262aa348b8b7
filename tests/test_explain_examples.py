"""`regelverk explain` for every contact of examples/contacts.ndjson, in both languages and formats."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluator.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "contacts.ndjson"
POLICIES = ROOT / "policies"


def _contact_ids() -> list[str]:
    ids = []
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the example's deliberately broken line has no id to explain it by
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            ids.append(record["id"])
    return ids


IDS = _contact_ids()


@pytest.fixture(scope="module", autouse=True)
def _load_the_policies_once():
    """The command as it runs, but the policies loaded once for the module's 120-odd runs."""
    command = importlib.import_module("evaluator.cli.evaluate")
    original, loaded = command.load_or_exit, {}

    def load_once(*args, **kwargs):
        key = repr((args, kwargs))
        if key not in loaded:
            loaded[key] = original(*args, **kwargs)
        return loaded[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(command, "load_or_exit", load_once)
        yield


def test_the_example_has_contacts_of_every_kind():
    assert len(IDS) >= 30 and {"sob-2", "vgr-2", "invalid-1", "none-1"} <= set(IDS)


def _explain(contact_id: str, lang: str, fmt: str) -> str:
    result = CliRunner().invoke(main, ["explain", str(EXAMPLE), "--contact", contact_id, "--lang", lang,
                                       "--format", fmt, "--policies", str(POLICIES)])
    assert result.exception is None or isinstance(result.exception, SystemExit), (contact_id, lang, fmt, result.exc_info)
    assert result.exit_code == 0, (contact_id, lang, fmt, result.output)
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize("contact_id", IDS)
def test_explain_every_example_contact(contact_id):
    explained = json.loads(_explain(contact_id, "en", "json"))
    decision = explained["decision"]
    assert decision["contact"] == contact_id
    assert json.loads(_explain(contact_id, "sv", "json")) == explained  # JSON does not depend on --lang
    applied = [f"{p['id']} {p['version']}" for p in decision["policies"]]
    for lang, words in (("en", ("Contact", "Status")), ("sv", ("Kontakt", "Status"))):
        text = _explain(contact_id, lang, "text")
        first, second = text.splitlines()[:2]
        assert first.startswith(f"{words[0]} {contact_id}")
        assert second.startswith(f"{words[1]}: {decision['status']}")
        if decision["status"] == "decided":
            assert applied and all(f"Policy {a} (" in text for a in applied), (contact_id, lang)
            # every rule the trace tried is named, with its result, in the reader's language
            tried = [r["rule"] for t in explained["trace"] for r in t["rules"]]
            word = "Rule" if lang == "en" else "Regel"
            assert all(f"  {word} {rule}: " in text for rule in tried), (contact_id, lang)
        if decision["status"] == "invalid":
            assert ("Input errors:" if lang == "en" else "Fel i indata:") in text
