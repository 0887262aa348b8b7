from __future__ import annotations

from pathlib import Path

import pytest

from evaluator import load_repository

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixture_policies() -> Path:
    return FIXTURES / "policies"


@pytest.fixture(scope="session")
def repo(fixture_policies):
    """The engine's own fixture policies (independent of the bundled ones)."""
    return load_repository(fixture_policies)


def chat(id, date, **facts):
    """A qualified written contact in Testland for patient p1 at unit u1."""
    base = {"id": id, "patient": "p1", "unit": "u1", "region": "testland", "date": date,
            "channel": "written", "dialogue": True, "documented": True}
    base.update(facts)
    return {k: v for k, v in base.items() if v is not None or k in facts}
