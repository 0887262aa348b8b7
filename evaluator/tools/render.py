"""Render the policies as pages a reviewer reads: a page per policy and an index, HTML or Markdown.

The HTML is static and offline: one file per page, the style inline, no scripts, fonts or
images fetched from anywhere, UTF-8 declared in the page itself. Every text from a policy file
goes through `html.escape`, so a `<` in a passage is a `<` on the page and never markup. The
Markdown pages hold the same texts as text too (`_md_text`): HTML in them as entities, and the
marks that would make a link or an image escaped; conditions and values stand in code, which
Markdown never reads as markup.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from ..loading import citation
from ..loading.policy import PolicyVersion, Rule
from ..loading.repository import Policy, PolicySet

FORMATS = ("html", "md")

# The published document, as a reader finds it. (`seed`, the maintainers' note of where the
# text came from, is not shown.)
SOURCE_FIELDS = (
    ("title", "Document"),
    ("document_id", "Document id"),
    ("version", "Document version"),
    ("url", "Address"),
    ("document_type", "Document type"),
    ("approved_by", "Approved by"),
    ("content_owner", "Content owner"),
    ("validity", "Validity"),
    ("note", "Note"),
)
SWEDISH_SOURCE_FIELDS = ("title", "version", "document_type", "approved_by", "content_owner")


def _fold(text) -> str:
    return " ".join(str(text).split())


def _until(v: PolicyVersion) -> str:
    return v.valid_to.isoformat() if v.valid_to else "until further notice"


def _as_written(value) -> str:
    """A parameter's or an effect's value as the policy file writes it (YAML flow style, not
    language.values.show, which shows a value to a reader)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_as_written(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_as_written(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


@dataclass(frozen=True)
class ParameterRow:
    name: str
    value: str
    type: str
    description: str


def parameter_rows(v: PolicyVersion) -> list[ParameterRow]:
    declared = v.document.get("parameters") or {}
    rows = []
    for name, value in v.parameters.items():
        raw = declared.get(name)
        description = _fold(raw.get("description", "")) if isinstance(raw, dict) else ""
        rows.append(ParameterRow(name, _as_written(value), str(v.parameter_types.get(name, "")), description))
    return rows


def _raw_rule(v: PolicyVersion, rule: Rule) -> dict:
    for r in v.document.get("rules") or []:
        if r.get("id") == rule.id:
            return r
    return {}


def page_name(policy_id: str, fmt: str) -> str:
    return f"{policy_id}.{fmt}"


def render_site(policy_set: PolicySet, fmt: str = "html") -> dict[str, str]:
    """Every page, by file name: index and one page per policy."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    policies = [policy_set.policies[k] for k in sorted(policy_set.policies)]
    pages = {}
    facts = [policy_set.facts[k] for k in sorted(policy_set.facts)]
    if fmt == "html":
        pages[f"index.{fmt}"] = html_index(policies, facts)
        for p in policies:
            pages[page_name(p.id, fmt)] = html_policy(p)
    else:
        pages[f"index.{fmt}"] = md_index(policies, facts)
        for p in policies:
            pages[page_name(p.id, fmt)] = md_policy(p)
    return pages


# --- HTML ----------------------------------------------------------------------------------

CSS = """
:root { color-scheme: light; --ink: #1d2733; --muted: #5b6775; --line: #d6dde5; --accent: #0b5cad;
        --paper: #ffffff; --tint: #f3f6f9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--tint); color: var(--ink);
       font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; background: var(--paper);
       min-height: 100vh; box-shadow: 0 0 0 1px var(--line); }
nav { font-size: .9rem; margin-bottom: 1rem; }
a { color: var(--accent); }
h1 { font-size: 1.7rem; line-height: 1.25; margin: .2rem 0 .4rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; padding-top: .6rem; border-top: 2px solid var(--line); }
h3 { font-size: 1.08rem; margin: 1.6rem 0 .4rem; }
.sub { color: var(--muted); margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .95rem; }
th, td { text-align: left; vertical-align: top; padding: .35rem .6rem; border-bottom: 1px solid var(--line); }
th { background: var(--tint); font-weight: 600; }
table.facts th { width: 11rem; background: none; color: var(--muted); font-weight: 500; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .9rem; }
pre { white-space: pre-wrap; background: var(--tint); border: 1px solid var(--line); border-radius: 4px;
      padding: .5rem .7rem; margin: .3rem 0 .7rem; }
blockquote { margin: .4rem 0 .7rem; padding: .4rem .9rem; border-left: 4px solid var(--accent);
             background: #eef4fb; font-style: italic; }
.rule { border: 1px solid var(--line); border-radius: 6px; padding: .2rem 1rem .6rem; margin: 1rem 0; }
.rule h3 { margin-top: .8rem; }
.label { color: var(--muted); font-size: .82rem; text-transform: uppercase; letter-spacing: .04em;
         margin: .7rem 0 .1rem; }
.sev { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem;
       font-weight: 600; vertical-align: middle; margin-left: .4rem; }
.sev-error { background: #fde2e1; color: #8a1c17; }
.sev-warning { background: #fff0c7; color: #6b4d00; }
.sev-info { background: #e1effd; color: #0b4a8a; }
.msg { display: grid; grid-template-columns: 2.2rem 1fr; gap: .2rem .4rem; margin: .2rem 0; }
.msg b { color: var(--muted); font-weight: 600; }
ol.timeline { list-style: none; padding: 0; margin: .4rem 0 1rem; }
ol.timeline li { padding: .3rem 0 .3rem 1.1rem; border-left: 3px solid var(--accent); margin-left: .3rem; }
.day { white-space: nowrap; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{body}\n"
        "<footer>Rendered by regelverk from the policy files; the policy files are the source of truth.</footer>\n"
        "</main>\n</body>\n</html>\n"
    )


def _anchor(*parts: str) -> str:
    return "-".join(p.replace(".", "_") for p in parts)


def _fact_kind(fact) -> str:
    if fact.values:
        return "one of " + ", ".join(fact.values)
    return fact.kind


def html_index(policies: list[Policy], facts: list | None = None) -> str:
    rows = []
    for p in policies:
        v = p.latest
        rows.append(
            f'<tr><td><a href="{_e(page_name(p.id, "html"))}" lang="sv">{_e(v.title)}</a><br><code>{_e(p.id)}</code></td>'
            f"<td>{_e(v.region)}</td><td lang=\"sv\">{_e(v.issuer)}</td>"
            f'<td>{_e(v.version)}</td><td><span class="day">{_e(v.valid_from.isoformat())}</span> – '
            f'<span class="day">{_e(_until(v))}</span></td>'
            f"<td>{len(p.versions)}</td></tr>")
    body = (
        "<h1>Policies</h1>\n"
        f'<p class="sub">{len(policies)} polic{"y" if len(policies) == 1 else "ies"}, '
        "each a guideline written as versioned rules.</p>\n"
        "<table>\n<thead><tr><th>Policy</th><th>Region</th><th>Issuer</th><th>Latest version</th>"
        "<th>In force</th><th>Versions</th></tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )
    if facts:
        fact_rows = "\n".join(
            f"<tr><td><code>{_e(f.name)}</code></td><td>{_e(_fact_kind(f))}</td>"
            f'<td lang="sv">{_e(f.description.get("sv", ""))}</td><td>{_e(f.description.get("en", ""))}</td></tr>'
            for f in facts)
        body += (
            '\n<h2 id="facts">Declared facts</h2>\n'
            "<p class=\"sub\">Facts these policies read beyond the contract's core contact fields "
            "(facts.yaml). A contact that lacks one has it unknown.</p>\n"
            "<table>\n<thead><tr><th>Fact</th><th>Kind of value</th><th>Betydelse</th><th>Meaning</th></tr></thead>\n"
            f"<tbody>\n{fact_rows}\n</tbody>\n</table>")
    return _page("Policies", body)


def _facts(rows: list[tuple[str, str, bool]]) -> str:
    """A two-column table; the flag marks a Swedish value."""
    out = ['<table class="facts">']
    for label, value, sv in rows:
        lang = ' lang="sv"' if sv else ""
        out.append(f"<tr><th>{_e(label)}</th><td{lang}>{value}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _html_rule(v: PolicyVersion, rule: Rule) -> str:
    raw = _raw_rule(v, rule)
    anchor = _anchor("v" + v.version, rule.id)
    parts = [f'<section class="rule" id="{_e(anchor)}">',
             f'<h3><code>{_e(rule.id)}</code><span class="sev sev-{_e(rule.severity)}">{_e(rule.severity)}</span></h3>',
             f'<div class="label">Section</div><div lang="sv">{_e(rule.section)}</div>',
             f'<div class="label">Passage</div><blockquote lang="sv">{_e(rule.passage)}</blockquote>']
    if rule.reading:
        parts.append(f'<div class="label">Reading</div><p>{_e(rule.reading)}</p>')
    parts.append(f'<div class="label">Condition</div><pre>{_e(str(raw.get("when", rule.when_text)).strip())}</pre>')
    effects = []
    if rule.then:
        effects.append(f"<li>when the condition holds: <code>{_e(_as_written(rule.then))}</code></li>")
    if rule.otherwise:
        effects.append(f"<li>otherwise: <code>{_e(_as_written(rule.otherwise))}</code></li>")
    if not effects:
        effects.append("<li>none: the rule only reports a finding</li>")
    parts.append('<div class="label">Effects</div><ul>' + "".join(effects) + "</ul>")
    msg = rule.message.raw
    parts.append('<div class="label">Message</div><div class="msg">'
                 f'<b>sv</b><span lang="sv">{_e(_fold(msg.get("sv", "")))}</span>'
                 f'<b>en</b><span lang="en">{_e(_fold(msg.get("en", "")))}</span></div>')
    parts.append("</section>")
    return "\n".join(parts)


def html_policy(policy: Policy) -> str:
    latest = policy.latest
    src = latest.source
    facts = [("Issuer", _e(latest.issuer), True),
             ("Region", _e(latest.region), False)]
    for key, label in SOURCE_FIELDS:
        if src.get(key):
            text = _e(_fold(src[key]))
            if key == "url" and citation.link(src):
                text = f'<a href="{_e(citation.link(src))}">{text}</a>'
            facts.append((label, text, key in SWEDISH_SOURCE_FIELDS))
    timeline = "\n".join(
        f'<li><a href="#{_e(_anchor("v" + v.version))}">version {_e(v.version)}</a>: '
        f"{_e(v.valid_from.isoformat())} – {_e(_until(v))} ({len(v.rules)} rules)</li>"
        for v in policy.versions)
    body = [
        '<nav><a href="index.html">← All policies</a></nav>',
        f'<h1 lang="sv">{_e(latest.title)}</h1>',
        f'<p class="sub"><code>{_e(policy.id)}</code> · latest version {_e(latest.version)}</p>',
        _facts(facts),
    ]
    if latest.description:
        body.append(f"<p>{_e(_fold(latest.description))}</p>")
    body += ["<h2>Versions</h2>", f'<ol class="timeline">\n{timeline}\n</ol>']
    for v in reversed(policy.versions):
        body.append(f'<h2 id="{_e(_anchor("v" + v.version))}">Version {_e(v.version)}: '
                    f"{_e(v.valid_from.isoformat())} – {_e(_until(v))}</h2>")
        facts = [("File", f"<code>{_e(v.file)}</code>", False)]
        if v.title != latest.title:
            facts.append(("Title", _e(v.title), True))
        if v is not latest and citation.full(v.source) != citation.full(latest.source):
            facts.append(("Document", _e(citation.full(v.source)), True))
        if v.source.get("validity") and v is not latest:
            facts.append(("Validity", _e(_fold(v.source["validity"])), False))
        body.append(_facts(facts))
        body.append(f'<div class="label">Applies when</div><pre>{_e(str(v.document.get("applies_when", v.applies_text)).strip())}</pre>')
        rows = parameter_rows(v)
        if rows:
            body.append("<h3>Parameters</h3>\n<table>\n<thead><tr><th>Name</th><th>Value</th><th>Type</th>"
                        "<th>Description</th></tr></thead>\n<tbody>")
            body += [f"<tr><td><code>{_e(r.name)}</code></td><td><code>{_e(r.value)}</code></td>"
                     f"<td>{_e(r.type)}</td><td>{_e(r.description)}</td></tr>" for r in rows]
            body.append("</tbody>\n</table>")
        body.append(f"<h3>Rules ({len(v.rules)})</h3>")
        body += [_html_rule(v, r) for r in v.rules]
    return _page(f"{latest.title} ({policy.id})", "\n".join(body))


# --- Markdown ------------------------------------------------------------------------------


# Markdown's marks that make a link, an image or a code span, and the backslash that escapes them
_MD_MARKS = re.compile(r"([\\`\[\]|])")


def _md_text(text) -> str:
    """A text from a policy file as Markdown shows it: as the text, never as markup. `&`, `<`
    and `>` become entities (so `<script>` is shown, not run, in every renderer that passes
    HTML through); a backslash escapes the marks of links, images and code spans, and `|`."""
    return _MD_MARKS.sub(r"\\\1", html.escape(str(text), quote=False))


def _md_cell(text) -> str:
    return _md_text(text).replace("\n", " ")


def _backticks(text: str) -> int:
    """The longest run of backticks in `text`."""
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _md_code(text, in_table: bool = False) -> str:
    """`text` as a code span: delimited by more backticks than any run inside it, so no text
    ends it early (in a table, a `|` in it escaped, as a table's cells are split first)."""
    text = str(text).replace("\n", " ")
    if in_table:
        text = text.replace("|", "\\|")
    fence = "`" * (_backticks(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_url(url: str) -> str:
    """An address inside <…>: the characters that would end it or break out of it, encoded."""
    return "".join(c if c.isprintable() and c not in ' <>"\'`\\' else "".join(f"%{b:02X}" for b in c.encode("utf-8"))
                   for c in url)


def md_index(policies: list[Policy], facts: list | None = None) -> str:
    out = ["# Policies", "", "| Policy | Region | Issuer | Latest version | In force | Versions |",
           "|---|---|---|---|---|---|"]
    for p in policies:
        v = p.latest
        out.append(f"| [{_md_cell(v.title)}]({page_name(p.id, 'md')}) ({_md_code(p.id)}) | {_md_cell(v.region)} "
                   f"| {_md_cell(v.issuer)} | {_md_cell(v.version)} | {v.valid_from.isoformat()} – {_until(v)} "
                   f"| {len(p.versions)} |")
    if facts:
        out += ["", "## Declared facts", "",
                "Facts these policies read beyond the contract's core contact fields (facts.yaml). "
                "A contact that lacks one has it unknown.", "",
                "| Fact | Kind of value | Betydelse | Meaning |", "|---|---|---|---|"]
        out += [f"| {_md_code(f.name)} | {_md_cell(_fact_kind(f))} | {_md_cell(f.description.get('sv', ''))} "
                f"| {_md_cell(f.description.get('en', ''))} |" for f in facts]
    return "\n".join(out) + "\n"


def _md_block(text: str) -> list[str]:
    """A fenced code block that no backticks inside the text can close early."""
    fence = "`" * max(3, _backticks(str(text)) + 1)
    return [fence, str(text).strip(), fence]


def md_policy(policy: Policy) -> str:
    latest = policy.latest
    out = ["[← All policies](index.md)", "", f"# {_md_text(latest.title)}", "",
           f"{_md_code(policy.id)} · latest version {latest.version}", "",
           "| | |", "|---|---|", f"| Issuer | {_md_cell(latest.issuer)} |", f"| Region | {_md_cell(latest.region)} |"]
    for key, label in SOURCE_FIELDS:
        if latest.source.get(key):
            text = _md_cell(_fold(latest.source[key]))
            if key == "url" and citation.link(latest.source):
                text = f"<{_md_url(citation.link(latest.source))}>"
            out.append(f"| {label} | {text} |")
    if latest.description:
        out += ["", _md_text(_fold(latest.description))]
    out += ["", "## Versions", ""]
    out += [f"- version {v.version}: {v.valid_from.isoformat()} – {_until(v)} ({len(v.rules)} rules)" for v in policy.versions]
    for v in reversed(policy.versions):
        out += ["", f"## Version {v.version}: {v.valid_from.isoformat()} – {_until(v)}", "", f"File: {_md_code(v.file)}", ""]
        if v is not latest and citation.full(v.source) != citation.full(latest.source):
            out += [f"Document: {_md_cell(citation.full(v.source))}", ""]
        if v is not latest and v.source.get("validity"):
            out += [f"Validity: {_md_text(_fold(v.source['validity']))}", ""]
        out += ["Applies when:", ""] + _md_block(v.document.get("applies_when", v.applies_text))
        rows = parameter_rows(v)
        if rows:
            out += ["", "### Parameters", "", "| Name | Value | Type | Description |", "|---|---|---|---|"]
            out += [f"| {_md_code(r.name)} | {_md_code(r.value, in_table=True)} | {_md_cell(r.type)} | {_md_cell(r.description)} |" for r in rows]
        out += ["", f"### Rules ({len(v.rules)})"]
        for rule in v.rules:
            raw = _raw_rule(v, rule)
            out += ["", f"#### {_md_code(rule.id)} ({rule.severity})", "", f"Section: {_md_text(rule.section)}", "",
                    "> " + _md_text(rule.passage)]
            if rule.reading:
                out += ["", f"Reading: {_md_text(rule.reading)}"]
            out += ["", "Condition:", ""] + _md_block(raw.get("when", rule.when_text))
            effects = []
            if rule.then:
                effects.append(f"- when the condition holds: {_md_code(_as_written(rule.then))}")
            if rule.otherwise:
                effects.append(f"- otherwise: {_md_code(_as_written(rule.otherwise))}")
            out += ["", "Effects:", ""] + (effects or ["- none: the rule only reports a finding"])
            msg = rule.message.raw
            out += ["", f"Message (sv): {_md_text(_fold(msg.get('sv', '')))}", "",
                    f"Message (en): {_md_text(_fold(msg.get('en', '')))}"]
    return "\n".join(out) + "\n"
