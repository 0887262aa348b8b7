"""The JSON Schemas of a policy repository's files, with its declared facts, for editors and APIs.

`regelverk schemas --out DIR` writes them into a repository, where its editor settings (the
YAML language server's `yaml.schemas`, or a `# yaml-language-server: $schema=…` line) point,
so that policy, test, facts and settings files are checked and completed as they are typed,
without regelverk's own checkout.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from ..loading.repository import PolicySet
from ..resources import load_schema

# The files written, and the part of a repository each one describes.
SCHEMA_FILES = {
    "policy.schema.json": "a policy version (policies/<region>/<policy-id>/<version>.yaml)",
    "policy-test.schema.json": "policy tests (*.test.yaml)",
    "contact.schema.json": "a contact: the contract's core fields and the repository's declared facts",
    "decision.schema.json": "a decision",
    "facts.schema.json": "the declared facts (facts.yaml)",
    "outputs.schema.json": "the outputs (policies/outputs.yaml)",
    "settings.schema.json": "the repository's settings (regelverk.yaml)",
}


def _contact_fields_for_tests(contact_schema: dict) -> dict:
    """A test's contact, history contact or defaults: the contact's fields, none required (a
    case's contact is completed by the file's defaults)."""
    return {
        "type": "object",
        "description": contact_schema.get("description", ""),
        "properties": copy.deepcopy(contact_schema["properties"]),
    }


def repository_schemas(policy_set: PolicySet) -> dict[str, dict]:
    """Every schema of SCHEMA_FILES for this policy set's repository, by file name."""
    contact = policy_set.contact_schema or load_schema("contact.schema.json")
    tests = copy.deepcopy(load_schema("policy-test.schema.json"))
    case = tests["properties"]["cases"]["items"]["properties"]
    fields = _contact_fields_for_tests(contact)
    case["contact"] = {**fields, "description": "The contact under test."}
    case["history"] = {"type": "array", "items": fields, "description": "Earlier contacts, decided first."}
    tests["properties"]["defaults"] = {**fields, "description": "Fields merged into every contact (history too) of every case."}
    schemas = {name: copy.deepcopy(load_schema(name)) for name in SCHEMA_FILES}
    schemas["contact.schema.json"] = copy.deepcopy(contact)
    schemas["policy-test.schema.json"] = tests
    return schemas


def schema_texts(policy_set: PolicySet) -> dict[str, str]:
    """Each schema file's text, as written."""
    return {name: json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
            for name, schema in repository_schemas(policy_set).items()}


def write_schemas(policy_set: PolicySet, out: Path) -> list[Path]:
    """Write the repository's schemas into `out` (created if need be); the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_texts(policy_set).items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(policy_set: PolicySet, out: Path) -> list[Path]:
    """The schema files in `out` that are missing or differ from what would be written now (a
    fact added to facts.yaml, a newer regelverk)."""
    stale = []
    for name, text in schema_texts(policy_set).items():
        path = out / name
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            stale.append(path)
    return stale
