"""The fuzz targets: for each, a hypothesis strategy for its input and a check that holds the
outcome to what the project promises. A check returns quietly on an allowed outcome and raises
(an AssertionError, or whatever escaped the code under test) on anything else."""

from __future__ import annotations

import io
import json
import shutil
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from evaluator.errors import Problem
from evaluator.language import ast
from evaluator.language.checker import KEYWORDS, check_condition
from evaluator.language.parser import ConditionSyntaxError, parse_condition
from evaluator.language.types import Names, field_types_from_schema
from evaluator.limits import from_settings
from evaluator.loading.facts import contact_schema_with, load_facts
from evaluator.loading.policy import read_version
from evaluator.loading.repository import Policy, PolicySet, load_policy_set
from evaluator.loading.settings import Settings, read_settings
from evaluator.loading.yamlsource import parse_yaml
from evaluator.resources import load_schema
from evaluator.running.api import Repository
from evaluator.running.engine import Engine
from evaluator.running.formats import read_chunks
from evaluator.running.ndjson import split_ndjson
from evaluator.tools.fmt import FormatError, format_text
from evaluator.tools.testing import run_tests

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures" / "policies"
BUNDLED = HERE.parent.parent / "policies"
STATUSES = {"decided", "no_policy", "invalid"}
OUTPUTS = {"reimbursable", "distance_contact", "patient_fee", "contact_type", "care_service", "kva"}


@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy
    check: object  # callable(example) -> None
    about: str


def _fixture_set() -> PolicySet:
    policy_set, problems = load_policy_set(FIXTURES)
    assert policy_set is not None, problems
    return policy_set


_STATE: dict = {}


def _state(key, make):
    if key not in _STATE:
        _STATE[key] = make()
    return _STATE[key]


def release_state() -> None:
    """Stop what the targets started (the HTTP target's service thread): a thread left running
    would change how the rest of a test session forks."""
    for value in _STATE.values():
        closer = value[-1] if isinstance(value, tuple) else None
        if hasattr(closer, "close"):
            closer.close()
    _STATE.clear()


def _decisions_ok(decisions: list, n: int, ids: list | None = None) -> None:
    """Every line has its decision, in order, in the contract's shape."""
    assert len(decisions) == n, (len(decisions), n)
    for i, d in enumerate(decisions):
        assert isinstance(d, dict), d
        assert d["status"] in STATUSES, d
        assert set(d["outputs"]) == OUTPUTS, d
        if d["status"] == "invalid":
            assert d["errors"], d
            assert all(v is None for v in d["outputs"].values()), d
        if ids is not None and ids[i] is not None:
            assert d["contact"] == ids[i], (d["contact"], ids[i])


def _problems_ok(problems: list[Problem]) -> None:
    """Problems are the project's own: a code and plain words, and errors have a place."""
    for p in problems:
        assert isinstance(p, Problem), p
        assert p.code and p.message, p
        if p.severity == "error":
            assert p.location is not None and p.location.line >= 1 and p.location.column >= 1, p
        p.render()
        p.to_json()


# --- the condition parser and checker --------------------------------------------------------

FIELDS = ["dialogue", "documented", "channel", "duration_minutes", "date", "kva", "care_choice",
          "unit", "patient", "region", "contact_type", "sob_activity", "platform", "booked", "time"]
PARAMS = ["cap", "codes", "limit_day", "label"]
WORDS = ("and or not in contains is empty known missing true false current was same iso within since "
         "latest count of earlier contacts contact where any no days months weeks years day").split()
SYMBOLS = ["=", "!=", "<", "<=", ">", ">=", "(", ")", "[", "]", ",", "+", "-", "*", ".", "==", "&&", "=>",
           '"video"', '"written"', "'x'", '"', "12", "0", "99999999999999999999999", "2025-02-30", "2024-01-01",
           "iso_week(", "length(", "weekday(", "reimbursable", "och", "eller", "\n", "\t", "\u00e5r", "Å"]
ATOMS = ["dialogue", "documented", 'channel = "video"', "duration_minutes >= 10", "date >= 2024-01-01",
         'kva contains "AA001"', "care_choice is known", "booked is missing", "duration_minutes < cap",
         'channel in ["video", "phone"]', "kva is not empty", "iso_week(date) = 3", "date - 12 months < date",
         "channel in codes", "length(kva) > 1", "contact_type != 12", "not dialogue", "-duration_minutes < 0",
         'care_choice = label']
HISTORY_ATOMS = ["same iso week", "within 7 days", "within cap days", "same month", "same unit",
                 "was reimbursable", 'channel = "written"', "since latest (channel = \"physical\")",
                 "current.channel = channel", "date > current.date - 30 days"]


def _combine(inner):
    return st.one_of(
        st.tuples(inner, st.sampled_from([" and ", " or "]), inner).map("".join),
        inner.map(lambda x: f"not {x}"),
        inner.map(lambda x: f"({x})"),
        st.lists(inner, min_size=2, max_size=8).map(" or ".join),
    )


_history = st.recursive(st.sampled_from(HISTORY_ATOMS + ATOMS), _combine, max_leaves=6)
_structured = st.recursive(
    st.one_of(st.sampled_from(ATOMS),
              _history.map(lambda f: f"count of earlier contacts where ({f}) >= cap"),
              _history.map(lambda f: f"any earlier contact where ({f})"),
              _history.map(lambda f: f"no earlier contacts where ({f})")),
    _combine, max_leaves=12)
_soup = st.lists(st.one_of(st.sampled_from(WORDS + FIELDS + PARAMS + SYMBOLS), st.text(max_size=4)),
                 max_size=30).map(" ".join)


def _mangle(text_and_edits):
    text, edits = text_and_edits
    for pos, cut, insert in edits:
        pos = pos % (len(text) + 1)
        text = text[:pos] + insert + text[pos + cut:]
    return text


_edited = st.tuples(_structured, st.lists(st.tuples(st.integers(0, 500), st.integers(0, 5),
                                                    st.sampled_from(SYMBOLS + WORDS + [""])), max_size=3)).map(_mangle)
_deep = st.tuples(st.sampled_from(["not ", "-", "length(", "[", "(", "not (", "iso_week(", "count of earlier contacts where ("]),
                  st.integers(1, 1500)).map(lambda t: t[0] * t[1] + "dialogue" + ")" * t[1])
_chains = st.tuples(st.sampled_from([" or ", " and "]), st.integers(2, 1200)).map(lambda t: t[0].join(["dialogue"] * t[1]))
# Two values side by side, the commonest slip (Lark's match_examples failed on some).
_juxtaposed = st.tuples(_structured, st.sampled_from(['"x"', "y", "12", "[1]", "dialogue", "(a)"])).map(" ".join)
CONDITION = st.one_of(_structured, _soup, _edited, _deep, _chains, _juxtaposed)

_POLICY = """\
id: fuzz-policy
version: "1.0"
title: Fuzz
issuer: Fuzz region
region: testland
valid_from: 2024-01-01
source: {seed: fuzz.txt}
applies_when: region = "testland"
parameters: {cap: 2, codes: ["video", "phone"], limit_day: 2024-06-01, label: rehab}
rules:
  - id: r
    section: S
    passage: P.
    when: WHEN
    then: {reimbursable: false}
    otherwise: {reimbursable: true}
    severity: info
    message: {sv: "x {evidence} {missing}", en: "x {cap}"}
"""

_CONTACTS = [
    {"id": "h1", "patient": "p1", "unit": "u1", "region": "testland", "date": "2024-03-01", "channel": "physical"},
    {"id": "h2", "patient": "p1", "unit": "u2", "region": "testland", "date": "2024-03-04", "channel": "written",
     "dialogue": True, "documented": False, "kva": ["AA001"], "duration_minutes": 30},
    {"id": "c1", "patient": "p1", "unit": "u1", "region": "testland", "date": "2024-03-05", "channel": "video",
     "dialogue": True, "care_choice": "rehab", "booked": True, "kva": []},
    {"id": "c2", "patient": "p1", "unit": "u1", "region": "testland", "date": "2024-03-05", "channel": "written"},
]


def check_condition_text(text: str) -> None:
    """Parse, check and, when it passes, compile the condition into a policy and decide
    contacts with it: ConditionSyntaxError and type problems are the allowed refusals."""
    policy_set = _state("fixture_set", _fixture_set)
    names = Names(fields=policy_set.fields, outputs=policy_set.outputs)
    try:
        node = parse_condition(text)
    except ConditionSyntaxError as exc:
        assert exc.message and 0 <= exc.offset <= max(len(text), 1), exc
        return
    assert isinstance(node, ast.Node)
    _, problems = check_condition(node, names, allow_history=True)
    for p in problems:
        assert p.message and 0 <= p.offset <= len(text), p
    doc, yaml_problems = parse_yaml(_POLICY.replace("WHEN", json.dumps(text, ensure_ascii=False)), "fuzz.yaml")
    if doc is None or yaml_problems:
        return
    version, problems = read_version(doc, names, policy_set.outputs)
    _problems_ok(problems)
    if version is None:
        assert problems
        return
    ps = PolicySet(FIXTURES, policy_set.outputs, {version.id: Policy(version.id, (version,))}, policy_set.fields)
    decisions, _ = Engine(ps).evaluate([dict(c) for c in _CONTACTS])
    _decisions_ok(decisions, len(_CONTACTS), [c["id"] for c in _CONTACTS])


# --- the YAML loader: policies, outputs, tests, settings, facts ------------------------------

FRAGMENTS = ["!!bool maybe", "!!timestamp x", "!!int", "!!float", "!!binary", "!!str", "!!null", "!!set",
             "!!omap", "!foo", "!!python/name:os.system", "&a", "*a", "&a [*a]", "<<: *a", "? ", "- ", ": ", "|",
             ">-", "'", '"', "[", "]", "{", "}", ",", "#", "%YAML 1.1\n", "---\n", "...\n", "\t", "~", "null",
             "2027-02-30", "2025-01-01", "1" * 50, "1" * 5000, "1e400", ".nan", "-.inf", "0x1F", "0o17", "1_000",
             "yes", "no", "on", "\u2028", "\ufeff", "\x00", "\x85", "x" * 300, "[" * 150, "{a: " * 120,
             "not " * 80, "dialogue or " * 60, "{patient}", "{evidence}", "{", "}", "\n  ", "\n    - ", "\n",
             "when: ", "then: ", "cases:", "history:", "expect:", "limits:", "max_file_bytes: 0", "facts:"]


def _mutate(seed_and_edits):
    text, edits = seed_and_edits
    lines = text.split("\n")
    for op, a, b, fragment in edits:
        if not lines:
            lines = [""]
        i, j = a % len(lines), b % len(lines)
        if op == "insert":
            line = lines[i]
            k = b % (len(line) + 1)
            lines[i] = line[:k] + fragment + line[k:]
        elif op == "replace":
            line = lines[i]
            k = b % (len(line) + 1)
            lines[i] = line[:k] + fragment + line[k + len(fragment):]
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[j])
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = " " * (b % 7) + lines[i].lstrip(" ")
    return "\n".join(lines)


def _edits():
    return st.lists(st.tuples(st.sampled_from(["insert", "replace", "delete", "duplicate", "swap", "indent"]),
                              st.integers(0, 10_000), st.integers(0, 10_000),
                              st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8))), min_size=1, max_size=6)


def _seeds() -> dict[str, list[tuple[str, str]]]:
    """(relative place, text) of every kind of file, from the fixtures and the bundled set."""
    policy = [(str(p.relative_to(FIXTURES)), p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.rglob("*.yaml"))
              if p.name != "outputs.yaml"]
    tests = [("testland/testland-chat/fuzz.test.yaml", p.read_text(encoding="utf-8"))
             for p in sorted(BUNDLED.rglob("*.test.yaml"))][:4]
    tests.append(("testland/testland-chat/fuzz.test.yaml", (HERE / "seed.test.yaml").read_text(encoding="utf-8")))
    return {
        "policy": policy,
        "outputs": [("outputs.yaml", (FIXTURES / "outputs.yaml").read_text(encoding="utf-8"))],
        "test": tests,
        "settings": [("../regelverk.yaml", "regelverk: 1\npolicies: policies\nfacts: facts.yaml\n"
                                          "limits:\n  max_condition_chars: 2000\n  max_yaml_nesting: 40\n")],
        "facts": [("../facts.yaml", "facts:\n  booked_by:\n    type: string\n    identifying: true\n"
                                    "  sessions:\n    type: integer\n    description: how many\n")],
    }


_SEEDS = _seeds()
YAML_FILE = st.sampled_from(sorted(_SEEDS)).flatmap(
    lambda kind: st.tuples(st.just(kind), st.tuples(st.sampled_from(_SEEDS[kind]), _edits())
                           .map(lambda t: (t[0][0], _mutate((t[0][1], t[1]))))))


def _workspace() -> Path:
    root = Path(tempfile.mkdtemp(prefix="regelverk-fuzz-"))
    shutil.copytree(FIXTURES, root / "policies")
    return root


def check_yaml_file(example) -> None:
    """A mutated file in a copy of the fixture repository: loading the policies, running the
    policy tests and reading the settings give problems at places, or a policy set."""
    kind, (place, text) = example
    root = _state("workspace", _workspace)
    target = (root / "policies" / place).resolve()
    original = target.read_bytes() if target.exists() else None
    target.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        if kind == "facts":
            core = field_types_from_schema(load_schema("contact.schema.json"))
            facts, problems = load_facts(target, core, KEYWORDS, required=True)
            _problems_ok(problems)
            if facts:
                contact_schema_with(facts)
            return
        if kind in ("policy", "test", "outputs"):
            try:  # regelverk fmt: ruamel reads the file after the loader has checked it
                format_text(text, place)
            except FormatError as exc:
                _problems_ok([exc.problem])
        settings = Settings(None, {})
        if kind == "settings":
            settings, problems = read_settings(root)
            _problems_ok(problems)
            if any(p.severity == "error" for p in problems):
                return
            from_settings(settings)
        policy_set, problems = load_policy_set(root / "policies", settings=Settings(None, settings.raw))
        _problems_ok(problems)
        if policy_set is None:
            assert any(p.severity == "error" for p in problems), problems
            return
        run = run_tests(policy_set, root / "policies")
        _problems_ok(run.problems)
        for result in run.results:
            str(result.location)
    finally:
        if original is None:
            target.unlink()
        else:
            target.write_bytes(original)


# --- contact lines (NDJSON) and the Python API -----------------------------------------------

_PERSON = ["19121212-1212", "191212121212", "121212-1212"]
_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(_PERSON + ["2024-03-04", "2025-02-30", "24:00", "09:15",
                                                                     "video", "written", "testland", "vgr", "halland",
                                                                     "rehab", "sob", "care", "administration"]))
_json = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                     max_leaves=8)
_FIELD_VALUES = {
    "id": st.one_of(st.sampled_from(["c1", "c2", "c3"]), _scalar), "patient": st.one_of(st.sampled_from(["p1", "p2"]), _scalar),
    "unit": st.one_of(st.just("u1"), _scalar), "region": st.one_of(st.sampled_from(["testland", "vgr", "halland"]), _scalar),
    "date": st.one_of(st.sampled_from(["2024-03-04", "2024-03-05", "2025-01-02", "2025-02-30"]), _scalar),
    "channel": st.one_of(st.sampled_from(["written", "video", "phone", "physical"]), _scalar),
}
_contact = st.fixed_dictionaries(
    {k: v for k, v in _FIELD_VALUES.items()},
    optional={f: _json for f in ["dialogue", "documented", "kva", "care_choice", "duration_minutes", "time",
                                  "booked", "sob_activity", "platform", "contact_type", "extra"]})


def _line(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


_lines = st.lists(st.one_of(
    _contact.map(_line), _contact.map(_line), _json.map(_line), st.binary(max_size=20),
    st.sampled_from([b"", b"{", b"[]", b'{"id": 1e400}', b'{"id": NaN}', b"\xff\xfe", b'"\\ud800"',
                     b"[" * 2000 + b"]" * 2000, b'{"a":' * 600 + b"1" + b"}" * 600, b"1" * 5000]),
), max_size=12)
CONTACTS = _lines


def _refuse(constant):
    raise ValueError(constant)


def _ids(lines: list[bytes]) -> list:
    """The id each line's decision must carry (None where the line is no JSON object with one):
    NaN and Infinity are not JSON (the contract's reading), though Python's json takes them."""
    out = []
    for line in lines:
        try:
            value = json.loads(line, parse_constant=_refuse)
        except (ValueError, RecursionError):
            out.append(None)
            continue
        out.append(value["id"] if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"] else None)
    return out


def check_contacts(lines: list[bytes]) -> None:
    """Every line through the Python API's NDJSON paths and evaluate_one: one decision per
    line, in order, with its id; a bad line is an invalid decision."""
    repo = _state("repository", lambda: Repository(_fixture_set()))
    text = b"\n".join(lines) + b"\n"
    n = len(split_ndjson(text))
    ids = _ids(split_ndjson(text))
    _decisions_ok(repo.evaluate_lines(text), n, ids)
    _decisions_ok([json.loads(s) for s in repo.evaluate_to_ndjson(text)], n, ids)
    out = io.BytesIO()
    assert repo.write_ndjson(text, out) == n
    _decisions_ok([json.loads(s) for s in split_ndjson(out.getvalue())], n, ids)
    for i, line in enumerate(lines[:3]):
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            history = [json.loads(x) for x in lines[:i] if _ids([x])[0] is not None]
            _decisions_ok([repo.evaluate_one(value, history)], 1)
            if ids[i] is not None:
                decision, _, _ = repo.explain(split_ndjson(text), ids[i])
                assert decision is not None
                # read up to three times, only the contact's patient held: the same decision
                again, _, _ = repo.explain_input(lambda: read_chunks(io.BytesIO(text), "ndjson", size=7), ids[i])
                assert again == decision


# --- the HTTP routes -------------------------------------------------------------------------

# The service's answers (evaluator/service): 411 a body it cannot size, 413/431 over a limit,
# 408 too slow, 415 a batch type it has no reader for, 501/505 a method or version the HTTP
# parser refuses; every one JSON.
_ALLOWED_STATUS = {200, 400, 404, 405, 408, 411, 413, 415, 422, 431, 501, 505}


def _service_url():
    """A decision service on a loopback port, in a thread of this process (started once)."""
    def start():
        from contextlib import ExitStack

        try:  # under pytest tests/ is on the path; `python -m tests.fuzz` runs from the checkout
            from _service import service_in_thread
        except ImportError:
            from tests._service import service_in_thread

        stack = ExitStack()
        url, _ = stack.enter_context(service_in_thread(Repository(_fixture_set())))
        return url, stack
    return _state("service", start)[0]


def _read_response(sock) -> bytes:
    """One HTTP response off the socket: its head, then as much body as it declares (a length,
    or chunks up to the last), or what comes until the server closes or goes quiet."""

    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lower = head.lower()
        length = None
        for line in lower.split(b"\r\n")[1:]:
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if head.split(b" ", 2)[1:2] in ([b"204"], [b"304"]) or b"head-request" in lower:
            return data
        while True:
            if length is not None and len(body) >= length:
                return head + b"\r\n\r\n" + body[:length]
            if length is None and b"transfer-encoding: chunked" in lower and body.endswith(b"0\r\n\r\n"):
                return head + b"\r\n\r\n" + body
            chunk = sock.recv(65536)
            if not chunk:
                return head + b"\r\n\r\n" + body
            body += chunk
    except (TimeoutError, ConnectionResetError):
        return data


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        n = int(size.split(b";")[0] or b"0", 16)
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    return out


def http_exchange(raw: bytes) -> tuple[int, dict, bytes]:
    """One raw request sent to the decision service over loopback: the seam the fuzzer drives.
    Returns status, headers and body (0 when the server answered nothing)."""
    import socket as _socket
    from urllib.parse import urlsplit

    url = urlsplit(_service_url())
    with _socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.settimeout(3)
        try:
            sock.sendall(raw)
            sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass  # the server may close early on a request it refused; its answer is still read
        response = _read_response(sock)
    if not response:
        return 0, {}, b""
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for h in header_lines:
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return int(status_line.split()[1]), headers, body


_body = st.one_of(
    CONTACTS.map(lambda lines: b"\n".join(lines)),
    st.tuples(_contact, st.lists(_contact, max_size=3)).map(
        lambda t: _line({"contact": t[0], "history": t[1]})),
    _json.map(_line), st.binary(max_size=30),
    st.dictionaries(st.sampled_from(["contact", "history", "contacts", "x"]), _json, max_size=3).map(_line),
)
HTTP = st.tuples(
    st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW", "post", ""]),
    st.one_of(st.sampled_from(["/evaluate", "/evaluate-one", "/policies", "/health", "/", "/evaluate?x=1",
                               "/evaluate-one#f", "//evaluate", "/%ff", "*"]), st.text(string.printable, max_size=10)),
    st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/x", ""]),
    st.sampled_from(["right", "none", "short", "long", "twice", "bad", "chunked", "huge"]),
    _body,
)


def check_http(example) -> None:
    """A request of any shape: a decision stream, a JSON answer, or a 4xx with a JSON error,
    never a 500, a traceback or a lost decision."""
    method, path, version, length, body = example
    headers = []
    if length == "right":
        headers.append(f"Content-Length: {len(body)}")
    elif length == "short":
        headers.append(f"Content-Length: {len(body) + 5}")
    elif length == "long":
        headers.append(f"Content-Length: {max(len(body) - 3, 0)}")
    elif length == "twice":
        headers += [f"Content-Length: {len(body)}", f"Content-Length: {len(body) + 1}"]
    elif length == "bad":
        headers.append("Content-Length: -1")
    elif length == "chunked":
        headers.append("Transfer-Encoding: chunked")
    elif length == "huge":
        headers.append("Content-Length: 99999999999999999999")
    raw = f"{method} {path} {version}".rstrip().encode("utf-8", "surrogatepass") + b"\r\n"
    raw += "".join(h + "\r\n" for h in headers).encode() + b"\r\n" + body
    status, resp_headers, resp_body = http_exchange(raw)
    if status == 0:
        return  # the server read no request line it could answer (an empty request)
    assert status in _ALLOWED_STATUS, (status, resp_body[:300])
    if method == "HEAD" or not resp_body:
        return
    if status != 200:
        answer = json.loads(resp_body)
        assert isinstance(answer, dict) and answer.get("error"), resp_body
        return
    clean = path.split("?")[0].split("#")[0]
    if clean == "/evaluate" and method == "POST":
        sent = body[:len(body) - 3] if length == "long" else body
        lines = split_ndjson(sent)
        _decisions_ok([json.loads(x) for x in split_ndjson(resp_body)], len(lines), _ids(lines))
    elif clean == "/evaluate-one":
        _decisions_ok([json.loads(resp_body)], 1)
    else:
        json.loads(resp_body) if clean == "/policies" else None


TARGETS = {
    t.name: t for t in (
        Target("condition", CONDITION, check_condition_text, "condition parser, checker, compiler, engine"),
        Target("yaml", YAML_FILE, check_yaml_file, "YAML loader: policies, outputs, tests, settings, facts"),
        Target("contacts", CONTACTS, check_contacts, "NDJSON contact lines through the Python API"),
        Target("http", HTTP, check_http, "raw HTTP requests through the server's request handler"),
    )
}
