"""Render a decision's trace as an account a person can read (Swedish or English), or as JSON."""

from __future__ import annotations

from ..language import ast
from ..language.values import show
from ..loading import citation
from .messages import render_message
from .trace import VersionTrace

WORDS = {
    "sv": {
        "contact": "Kontakt", "status": "Status", "outputs": "Utfall", "policy": "Policy",
        "not_in_force": "ingen version gäller detta datum", "not_applies": "gäller inte kontakten",
        "unknown_applies": "kan inte avgöras om den gäller; uppgift saknas om",
        "applies": "gäller", "rule": "Regel", "fired": "UTLÖSTES", "not_fired": "utlöstes inte",
        "unknown": "KAN INTE AVGÖRAS", "missing": "saknas", "counted": "räknade kontakter",
        "source": "Källa", "reading": "Tolkning", "condition": "Villkor", "sets": "sätter",
        "errors": "Fel i indata", "findings": "Fynd", "none": "inga", "passage": "Text",
        "parameters": "Parametrar", "document": "Dokument",
        "statuses": {"decided": "beslutad", "no_policy": "ingen policy gäller", "invalid": "ogiltig"},
        "combine": "Så vägs reglerna samman: för ett ja/nej-utfall vinner false, sedan okänt (null), "
                   "sedan true; ett listutfall får alla värden som krävs; ett enkelt värde som "
                   "ges på två olika sätt är en konflikt (null)",
    },
    "en": {
        "contact": "Contact", "status": "Status", "outputs": "Outputs", "policy": "Policy",
        "not_in_force": "no version is in force on this date", "not_applies": "does not apply to the contact",
        "unknown_applies": "cannot tell whether it applies; missing",
        "applies": "applies", "rule": "Rule", "fired": "FIRED", "not_fired": "did not fire",
        "unknown": "UNDETERMINED", "missing": "missing", "counted": "contacts counted",
        "source": "Source", "reading": "Reading", "condition": "Condition", "sets": "sets",
        "errors": "Input errors", "findings": "Findings", "none": "none", "passage": "Passage",
        "parameters": "Parameters", "document": "Document",
        "statuses": {},
        "combine": "How the rules combine: for a yes/no output a false wins, then unknown (null), "
                   "then true; a list output gets every value required; a single value given two "
                   "different ways is a conflict (null)",
    },
}


def _field_names(names, facts: dict | None, lang: str) -> str:
    """Field names as explain shows them: a fact the repository declares with its meaning."""
    facts = facts or {}
    return ", ".join(f"{n} ({facts[n].description.get(lang, '')})" if n in facts else n for n in names)


def render_text(decision: dict, trace: list[VersionTrace] | None, contact: dict | None, lang: str = "en",
                facts: dict | None = None) -> str:
    """The explanation for a person; `facts`: the repository's declared facts, whose meaning
    is given where one is missing."""
    w = WORDS[lang]
    lines = [f"{w['contact']} {decision['contact']}"
             + (f" ({contact.get('date').isoformat()}, {contact.get('region')}, {contact.get('channel')})" if contact else ""),
             f"{w['status']}: {decision['status']}"
             + (f" ({w['statuses'][decision['status']]})" if decision["status"] in w["statuses"] else "")]
    if decision["errors"]:
        lines.append(f"{w['errors']}:")
        lines += [f"  - {e.get('field') or '-'}: {e['message']}" for e in decision["errors"]]
    lines.append(f"{w['outputs']}: " + ", ".join(f"{k}={show_plain(v)}" for k, v in decision["outputs"].items()))
    if decision["status"] == "decided":
        lines.append(f"  ({w['combine']})")
    for vt in trace or []:
        lines.append("")
        if vt.version is None:
            lines.append(f"{w['policy']} {vt.policy}: {w['not_in_force']}")
            continue
        v = vt.version
        head = f"{w['policy']} {v.id} {v.version} ({v.period()})"
        if vt.applies is False:
            lines.append(f"{head}: {w['not_applies']}")
            continue
        if vt.applies is None:
            lines.append(f"{head}: {w['unknown_applies']} {_field_names(vt.missing, facts, lang)}")
            continue
        lines.append(f"{head}: {w['applies']} — {v.title}")
        lines.append(f"  {w['document']}: {citation.full(v.source)}")
        for rt in vt.rules:
            r = rt.rule
            state = {True: w["fired"], False: w["not_fired"], None: w["unknown"]}[rt.result]
            sets = f" → {w['sets']} " + ", ".join(f"{k}={show_plain(x)}" for k, x in rt.outputs.items()) if rt.outputs else ""
            lines.append(f"  {w['rule']} {r.id}: {state}{sets}")
            lines.append(f"    {w['condition']}: {r.when_text}")
            used = dict.fromkeys(n.name for n in ast.walk(r.when) if isinstance(n, ast.Name) and n.name in v.parameters)
            if used:
                lines.append(f"    {w['parameters']}: " + ", ".join(f"{name} = {show_plain(v.parameters[name])}" for name in used))
            if rt.missing:
                lines.append(f"    {w['missing']}: {_field_names(rt.missing, facts, lang)}")
            if rt.evidence:
                lines.append(f"    {w['counted']} ({len(rt.evidence)}): " + ", ".join(f"{e.id} ({e.date.isoformat()})" for e in rt.evidence))
            if rt.result is True and contact is not None:
                parts = r.message.sv if lang == "sv" else r.message.en
                lines.append("    » " + render_message(parts, lang, v.parameters, contact, rt.evidence, rt.missing))
            lines.append(f"    {w['source']}: {r.source}")
            lines.append(f"    {w['passage']}: “{r.passage}”")
            if r.reading:
                lines.append(f"    {w['reading']}: {r.reading}")
    return "\n".join(lines) + "\n"


def trace_json(trace: list[VersionTrace] | None) -> list[dict]:
    out = []
    for vt in trace or []:
        item = {"policy": vt.policy, "version": vt.version.version if vt.version else None,
                "in_force": vt.version is not None, "applies": vt.applies, "missing": vt.missing,
                "document": citation.fields(vt.version.source) if vt.version else None, "rules": []}
        for rt in vt.rules:
            item["rules"].append({"rule": rt.rule.id, "result": rt.result, "outputs": rt.outputs,
                                  "evidence": [e.id for e in rt.evidence], "missing": rt.missing,
                                  "condition": rt.rule.when_text, "source": rt.rule.source})
        out.append(item)
    return out


def show_plain(value) -> str:
    """A value as an account shows it: null, true, [a, b], text unquoted."""
    return show(value, quote_text=False)
