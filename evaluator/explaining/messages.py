"""The sentences of findings, in Swedish and English, with every value written by one printer.

A rule's own message is the policy author's template (``Rule.message``), filled in here;
the sentences regelverk itself says (a rule that cannot be tried, a policy whose applies_when
cannot be told, two rules that ask for different values of one output) are written here too,
and nowhere else.
"""

from __future__ import annotations

from ..language.values import show_in_sentence

NONE = {"sv": "inga", "en": "none"}
# A yes/no value inside a sentence: a word of the sentence's language, not JSON's true/false.
YES_NO = {"sv": ("nej", "ja"), "en": ("no", "yes")}


def in_sentence(value, lang: str) -> str:
    """A value as a message of `lang` shows it: show_in_sentence's, with yes/no as words."""
    if type(value) is bool and lang in YES_NO:
        return YES_NO[lang][value]
    if type(value) is list and lang in YES_NO:
        return ", ".join(in_sentence(v, lang) for v in value)
    return show_in_sentence(value)


def list_evidence(evidence) -> str:
    """The evidence of a finding as its messages list it: `id (date)`, comma-separated ("" for
    none). Worked out once for both languages of a message (see render_message's `listed`)."""
    return ", ".join([f"{e.id} ({e.date.isoformat()})" for e in evidence])


def render_message(parts: tuple, lang: str, params: dict, contact: dict, evidence, missing,
                   listed: str | None = None) -> str:
    """A message template (text and placeholders) filled in: a parameter's value, a contact
    field's (`?` where the contact lacks it), the evidence (`id (date)`), the missing facts.
    `listed`: list_evidence(evidence), where the caller has it already."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        name = part[0]
        if name == "evidence":
            out.append((list_evidence(evidence) if listed is None else listed) or NONE[lang])
        elif name == "missing":
            out.append(", ".join(missing) or NONE[lang])
        elif name in params:
            out.append(in_sentence(params[name], lang))
        else:
            value = contact.get(name)
            out.append(in_sentence(value, lang) if value is not None else "?")
    return "".join(out)


def _are(missing) -> str:
    return "is" if len(missing) == 1 else "are"


def unknown_message(rule, params: dict, contact: dict, missing: list) -> dict:
    """The message of a rule left undetermined: which facts are missing, then the rule's own."""
    facts = ", ".join(missing) or "?"
    return {
        "sv": f"Regeln kan inte prövas: uppgift saknas om {facts}. Regeln: "
              + render_message(rule.message.sv, "sv", params, contact, [], missing),
        "en": f"The rule cannot be tried: {facts} {_are(missing)} missing. The rule: "
              + render_message(rule.message.en, "en", params, contact, [], missing),
    }


def not_told_message(policy_id: str, missing: list) -> dict:
    """The message of a policy whose applies_when cannot be told for a contact."""
    facts = ", ".join(missing)
    return {
        "sv": f"Det går inte att avgöra om {policy_id} gäller kontakten: uppgift saknas om {facts}.",
        "en": f"Whether {policy_id} applies cannot be told: {facts} {_are(missing)} missing.",
    }


def conflict_finding(name: str, distinct: dict) -> dict:
    """The error finding of a `single` output given different values: `distinct` maps each
    value to the first (version, rule) that gave it, in order; the finding names the second."""
    claims = [f"{show_in_sentence(value)} ({v.id}/{rule.id})" for value, (v, rule) in distinct.items()]
    _, (vb, rb) = list(distinct.items())[1]
    return {
        "policy": vb.id, "version": vb.version, "rule": rb.id, "severity": "error",
        "message": {
            "sv": f"Motstridiga krav på {name}: {' och '.join(claims)}.",
            "en": f"Conflicting requirements for {name}: {' and '.join(claims)}.",
        },
        "source": rb.source, "evidence": [], "result": "conflict",
    }


def message_names(rule) -> tuple[tuple[str, ...], bool]:
    """The contact fields a rule's messages name, and whether they list the evidence."""
    names = [part[0] for part in (*rule.message.sv, *rule.message.en) if not isinstance(part, str)]
    return tuple(dict.fromkeys(n for n in names if n not in ("evidence", "missing"))), "evidence" in names
