"""docs/contract.md names exactly the fields the JSON Schemas in schemas/ check."""

from __future__ import annotations

import re
from pathlib import Path

from evaluator.resources import load_schema

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "docs" / "contract.md"


def _tables(section: str) -> list[dict]:
    """The tables under the section whose heading starts `## N.`: each as its header cells and
    the first cell's `name` of every row."""
    text = CONTRACT.read_text(encoding="utf-8")
    match = re.search(rf"^## {section}\..*?(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, f"docs/contract.md has no section {section}"
    tables, current = [], None
    for line in match.group(0).splitlines():
        if not line.startswith("|"):
            current = None
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if current is None:
            current = {"header": cells, "rows": {}}
            tables.append(current)
        elif not set(cells[0]) <= set("-: "):
            name = re.fullmatch(r"`([a-z_-]+)`", cells[0])
            assert name, f"a row of a table in section {section} does not start with a `field`: {line}"
            current["rows"][name.group(1)] = cells
    return tables


def test_every_contact_field_of_the_contract_is_in_the_contact_schema_and_back():
    schema = load_schema("contact.schema.json")
    tables = _tables("1")
    named = {name for t in tables for name in t["rows"]}
    assert named == set(schema["properties"]), (named ^ set(schema["properties"]))
    (first,) = [t for t in tables if "required" in t["header"]]
    required = {name for name, cells in first["rows"].items() if cells[2] == "yes"}
    assert required == set(schema["required"])


def test_every_decision_field_of_the_contract_is_in_the_decision_schema():
    schema = load_schema("decision.schema.json")
    decision, outputs, finding = _tables("3")
    assert set(decision["rows"]) == set(schema["properties"])
    assert set(outputs["rows"]) == set(schema["properties"]["outputs"]["required"])
    finding_schema = schema["properties"]["findings"]["items"]
    assert set(finding["rows"]) == set(finding_schema["required"])


def test_the_bundled_policies_table_names_every_bundled_policy():
    from evaluator import load_repository

    (table,) = _tables("5")
    ids = set(load_repository(ROOT / "policies").policy_set.policies)
    assert set(table["rows"]) == ids
    versions = {v.id: v for v in load_repository(ROOT / "policies").policy_set.versions()}
    for pid, cells in table["rows"].items():
        source = versions[pid].source
        assert source["title"] in cells[1], pid
        if source.get("document_id"):
            assert source["document_id"] in cells[1], pid


def test_the_readme_links_the_projects_own_contract():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/contract.md)" in readme
    assert "../shared" not in readme
