"""Render an ImpactReport: text for a terminal, Markdown for a pull request, JSON for machines."""

from __future__ import annotations

from datetime import date

from ..language.values import show
from .impact import Example, Group, ImpactReport, Window

# Example lists longer than this are folded in <details> in Markdown.
FOLD_AFTER = 3


def _period(w: Window) -> str:
    if w.start == date.min and w.end == date.max:
        return "on every contact's date"
    return f"{w.start.isoformat()} – {w.end.isoformat()}"


def _window_words(w: Window) -> str:
    place = f"in place of {w.old}" if w.old else "(a new policy)"
    seen = "" if w.contacts is None else f" ({w.contacts} contact(s) the old version applied to)" if w.old \
        else f" ({w.contacts} contact(s) dated in it)"
    return f"{w.policy} {w.new} {place}, {_period(w)}{seen}"


def counterfactual_words(report: ImpactReport) -> list[str]:
    """The label every format carries when the new side is counterfactual."""
    if not report.counterfactual:
        return []
    if all(w.start == date.min and w.end == date.max for w in report.windows) and report.windows:
        w = report.windows[0]
        return [f"COUNTERFACTUAL: every contact decided by {w.policy} {w.old} and by {w.new}, "
                "each taken as in force on the contact's date."]
    left_out = [f"  {pid} {new}: not put in force anywhere ("
                + ("no contact in the file that " + old + " applies to)" if old else "already in force over its window)")
                for pid, new, old in report.no_window]
    if not report.windows:
        return ["COUNTERFACTUAL, but no new version was put in force anywhere: the working set as it stands."] + left_out
    return (["COUNTERFACTUAL: the new side is not what the policies decide today, but what they would "
             "have decided had the new version(s) been in force:"] + [f"  {_window_words(w)}" for w in report.windows]
            + left_out)


def _versions_words(report: ImpactReport) -> str | None:
    v = report.versions
    parts = ([f"+ {p} {n}" for p, n in v.added] + [f"~ {p} {n}" for p, n in v.changed]
             + [f"- {p} {n}" for p, n in v.removed])
    return "; ".join(parts) if parts else None


def _headline(report: ImpactReport) -> str:
    decided = report.contacts - report.invalid
    line = (f"{report.contacts} contact(s) decided ({decided} valid, {report.invalid} invalid); "
            f"{report.changed} decision(s) differ, {report.flipped} of them in status or outputs")
    extra = []
    if report.reworded:
        extra.append(f"{report.reworded} more differ only in the words of their findings")
    for change, n in sorted(report.policies_only.items()):
        extra.append(f"{n} more are decided alike but {change[1:]} {'now' if change[0] == '+' else 'no longer'} applies")
    if report.counterfactual and report.windows and any(w.start != date.min for w in report.windows):
        extra.append(f"{report.in_window} contact(s) dated inside the window(s)")
    return line + (" (" + "; ".join(extra) + ")" if extra else "")


def _findings_words(group: Group) -> list[str]:
    return [f"{side}: {policy} {version} {rule} ({n})"
            for (side, policy, version, rule), n in sorted(group.findings.items(), key=lambda kv: (kv[0][0] != "base", kv[0]))]


def _value(group: Group, side: dict) -> str:
    if group.output == "findings":
        return ""
    if group.output == "status" or side["status"] != "decided":
        return side["status"]
    if group.output in side["outputs"]:
        return f"{group.output}={show(side['outputs'][group.output])}"
    return "policies: " + (", ".join(side["policies"]) or "none")


def _messages(side: dict, lang: str) -> str:
    if not side["findings"]:
        return "(no finding)"
    return " | ".join(f"{f['policy']} {f['version']} {f['rule']}: {(f.get('message') or {}).get(lang, '')}"
                      for f in side["findings"])


def _example_lines(group: Group, e: Example, lang: str) -> list[str]:
    return [f"    {e.contact}",
            f"      base: {_joined(_value(group, e.base), _messages(e.base, lang), ' — ')}",
            f"      new:  {_joined(_value(group, e.new), _messages(e.new, lang), ' — ')}"]


def _joined(value: str, messages: str, between: str) -> str:
    return f"{value}{between}{messages}" if value else messages


def render_text(report: ImpactReport, lang: str = "en") -> str:
    out = [f"Impact on {report.source}", f"  base:    {report.base}", f"  working: {report.working}"]
    if (versions := _versions_words(report)) is not None:
        out.append(f"  policy versions: {versions}")
    return "\n".join(out + [""] + text_body(report, lang)) + "\n"


def text_body(report: ImpactReport, lang: str = "en") -> list[str]:
    """The counterfactual label, the headline and the groups, as lines of text."""
    out = counterfactual_words(report)
    out += ["", _headline(report)] if out else [_headline(report)]
    for group in report.groups:
        out += ["", f"{group.output} {group.transition}: {group.count} decision(s)"]
        findings = _findings_words(group)
        if findings:
            out.append("  findings that differ: " + "; ".join(findings))
        if group.examples:
            out.append("  examples:")
            for e in group.examples:
                out += _example_lines(group, e, lang)
    return out


def _md(text: str) -> str:
    """Text in a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def render_markdown(report: ImpactReport, lang: str = "en") -> str:
    out = [f"### Impact on {_code(report.source)}", "",
           f"Base {_code(report.base)}, working {_code(report.working)}.  "]
    if (versions := _versions_words(report)) is not None:
        out.append(f"Policy versions: {_md(versions)}.")
    return "\n".join(out + [""] + markdown_body(report, lang)) + "\n"


def markdown_body(report: ImpactReport, lang: str = "en") -> list[str]:
    """The counterfactual label, the headline, the table of groups and their examples."""
    out = []
    if report.counterfactual:
        words = counterfactual_words(report)
        out += [f"> **{words[0]}**"] + [f"> - {_md(w.strip())}" for w in words[1:]] + [""]
    out += [_md(_headline(report)) + ".", ""]
    if not report.groups:
        out.append("No decision changes.")
        return out
    out += ["| output | change | decisions | findings that differ |", "|---|---|---:|---|"]
    for g in report.groups:
        out.append(f"| {_code(g.output)} | {_code(g.transition)} | {g.count} | "
                   + _md("; ".join(_findings_words(g)) or "—") + " |")
    for g in report.groups:
        if not g.examples:
            continue
        rows = ["| contact | base | new |", "|---|---|---|"]
        rows += [f"| {_code(e.contact)} | {_md(_joined(_value(g, e.base), _messages(e.base, lang), ': '))} | "
                 f"{_md(_joined(_value(g, e.new), _messages(e.new, lang), ': '))} |" for e in g.examples]
        title = f"{_code(g.output)} {_code(g.transition)}: {len(g.examples)} of {g.count} example(s)"
        if len(g.examples) > FOLD_AFTER:
            out += ["", f"<details><summary>{title}</summary>", "", *rows, "", "</details>"]
        else:
            out += ["", f"**{title}**", "", *rows]
    return out


def impact_json(report: ImpactReport) -> dict:
    v = report.versions
    return {
        "source": report.source,
        "base": report.base,
        "working": report.working,
        "contacts": report.contacts,
        "invalid": report.invalid,
        "changed": report.changed,
        "flipped": report.flipped,
        "reworded": report.reworded,
        "policies_only": dict(sorted(report.policies_only.items())),
        "counterfactual": report.counterfactual,
        "windows": [{"policy": w.policy, "new": w.new, "old": w.old,
                     "from": None if w.start == date.min else w.start.isoformat(),
                     "to": None if w.end == date.max else w.end.isoformat(), "contacts": w.contacts}
                    for w in report.windows],
        "not_in_force": [{"policy": p, "new": n, "old": o} for p, n, o in report.no_window],
        "in_window": report.in_window if report.counterfactual else None,
        "versions": {"added": [list(x) for x in v.added], "changed": [list(x) for x in v.changed],
                     "removed": [list(x) for x in v.removed]},
        "groups": [{
            "output": g.output, "transition": g.transition, "count": g.count,
            "findings": [{"side": side, "policy": p, "version": ver, "rule": r, "decisions": n}
                         for (side, p, ver, r), n in sorted(g.findings.items())],
            "examples": [{"contact": e.contact, "base": e.base, "new": e.new} for e in g.examples],
        } for g in report.groups],
    }
