"""`regelverk render`: the pages, their escaping, and how a real browser shows them."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from _golden import FIXTURES, check_golden
from click.testing import CliRunner

from evaluator.cli.render import render

TOOLCHAIN = FIXTURES / "toolchain"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def here(monkeypatch):
    monkeypatch.chdir(TOOLCHAIN)


def _render(out: Path, *args: str, policies: str = "policies"):
    return CliRunner().invoke(render, ["--out", str(out), "--policies", policies, *args])


def test_markdown_pages(here, tmp_path):
    result = _render(tmp_path, "--format", "md")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "index.md", "sorland-video-contact.md", "sorland-written-contact.md"]
    check_golden("render-index.md", (tmp_path / "index.md").read_text(encoding="utf-8"))
    check_golden("render-sorland-video-contact.md", (tmp_path / "sorland-video-contact.md").read_text(encoding="utf-8"))


def test_html_pages_are_static_offline_and_utf8(here, tmp_path):
    result = _render(tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote 3 page(s) to {tmp_path}")
    page = (tmp_path / "sorland-video-contact.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    # nothing fetched: no scripts, no external style sheets, fonts or images; a remote address
    # only as a link the reader may follow (the cited document's)
    link = '<a href="https://www.example.org/sorland/distanskontakt">https://www.example.org/sorland/distanskontakt</a>'
    assert page.count(link) == 1
    assert not re.search(r"<script|<link|<img|@import|url\(|https?://", page.replace(link, ""))
    # the citation a reader can follow, never the maintainers' note of the text's file
    assert '<tr><th>Document</th><td lang="sv">Distanskontakt via video och telefon i Vårdval Sörland</td></tr>' in page
    assert "<tr><th>Document id</th><td>RS-2025-03</td></tr>" in page
    assert "sorland_distans.txt" not in page
    assert "<style>" in page
    # the whole timeline, newest version first in the body; both versions' rules
    assert "version 1.0</a>: 2024-01-01 – 2024-12-31 (4 rules)" in page
    assert "version 2.0</a>: 2025-01-01 – until further notice (4 rules)" in page
    assert page.index('id="v2_0"') < page.index('id="v1_0"')
    assert 'id="v1_0-identity-check"' in page
    # a rule in full: section, passage, reading, condition, effects, severity, both messages
    assert '<blockquote lang="sv">Korta telefonsamtal på ett par minuter ersätts inte.</blockquote>' in page
    assert "<pre>channel = &quot;phone&quot; and duration_minutes &lt; min_minutes</pre>" in page
    assert "when the condition holds: <code>{reimbursable: false}</code>" in page
    assert '<span class="sev sev-warning">warning</span>' in page
    assert '<span lang="en">The patient was not told about the fee in advance.</span>' in page
    # parameters with their type and description; the source document
    assert "<td><code>video_contact_type</code></td><td><code>23</code></td><td>whole number</td>" in page
    assert "Åsa Öberg, hälso- och sjukvårdsdirektör" in page
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert '<a href="sorland-video-contact.html" lang="sv">Distanskontakt via video och telefon i Vårdval Sörland</a>' in index


def test_text_from_policies_is_escaped(tmp_path):
    root = tmp_path / "policies"
    shutil.copytree(TOOLCHAIN / "policies", root)
    policy = root / "sorland" / "sorland-written-contact" / "1.0.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace(
        "– även när", '<script>alert("x")</script> & <b>även</b> när'), encoding="utf-8")
    result = _render(tmp_path / "site", policies=str(root))
    assert result.exit_code == 0, result.output
    page = (tmp_path / "site" / "sorland-written-contact.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<b>även" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;även&lt;/b&gt; när" in page


def test_text_from_policies_is_text_in_markdown_too(tmp_path):
    # markdown-it-py, a CommonMark renderer, comes with the test extra (schemathesis needs rich, rich it)
    from markdown_it import MarkdownIt

    root = tmp_path / "policies"
    shutil.copytree(TOOLCHAIN / "policies", root)
    policy = root / "sorland" / "sorland-written-contact" / "1.0.yaml"
    text = policy.read_text(encoding="utf-8").replace(
        "– även när", '<script>alert("x")</script> & <b>även</b> [klicka](javascript:alert(1)) `när')
    text = text.replace("title: ", 'title: "<img src=x onerror=alert(1)> ', 1).replace(
        "\nissuer:", '"\nissuer:', 1)
    policy.write_text(text, encoding="utf-8")
    result = _render(tmp_path / "site", "--format", "md", policies=str(root))
    assert result.exit_code == 0, result.output
    page = (tmp_path / "site" / "sorland-written-contact.md").read_text(encoding="utf-8")
    assert "<script" not in page and "<b>" not in page and "<img" not in page
    assert ('&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;b&gt;även&lt;/b&gt; '
            "\\[klicka\\](javascript:alert(1)) \\`när") in page
    shown = MarkdownIt("commonmark").render(page)
    assert "<script" not in shown and "<img" not in shown and "<a href=\"javascript" not in shown
    assert '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;amp; &lt;b&gt;även&lt;/b&gt;' not in shown
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;även&lt;/b&gt; [klicka](javascript:alert(1)) `när" in shown
    assert "<h1>&lt;img src=x onerror=alert(1)&gt; " in shown


def test_errors(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    result = _render(blocker / "site", policies=str(TOOLCHAIN / "policies"))
    assert result.exit_code == 2
    assert "cannot write to" in result.output
    broken = tmp_path / "policies"
    shutil.copytree(TOOLCHAIN / "policies", broken)
    (broken / "sorland" / "sorland-written-contact" / "1.0.yaml").write_text("id: [", encoding="utf-8")
    result = _render(tmp_path / "site", policies=str(broken))
    assert result.exit_code == 3
    assert "the policies cannot be loaded" in result.output


def test_help_shows_an_example():
    result = CliRunner().invoke(render, ["--help"])
    assert result.exit_code == 0 and "Example:" in result.output


# --- in a real browser ---------------------------------------------------------------------


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        # On a developer's machine without a browser: say so. In CI (CI=true) it is a failure.
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); CI installs it and runs this test")
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: the render test needs headless Chromium to check the pages in a real "
        "browser. Install it (Debian: apt-get install chromium); .ci/run does.")
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", f"--user-data-dir={profile}", *args],
        check=False, capture_output=True, timeout=120)


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the rows of an 8-bit RGB(A) PNG, decoded with zlib and PNG's row filters."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unexpected PNG kind {header}"
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def test_pages_in_headless_chromium(here, tmp_path):
    site = tmp_path / "site"
    assert _render(site).exit_code == 0
    page = (site / "sorland-video-contact.html").resolve()

    # The DOM as Chromium parsed it: the Swedish text arrives intact (the encoding is right).
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")
    text = dom.stdout.decode("utf-8")
    assert "Vårdval Sörland" in text
    assert "Åsa Öberg, hälso- och sjukvårdsdirektör" in text
    assert "Kontakten är inte en journalförd dialog och ersätts inte." in text

    # A screenshot: it exists, has the window's size and is not blank.
    shot = tmp_path / "page.png"
    done = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri())
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert shot.exists() and shot.stat().st_size > 20_000
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 1600)
    bpp = len(rows[0]) // width
    colors = {row[i:i + 3] for row in rows[::8] for i in range(0, len(row), bpp * 4)}
    assert len(colors) > 50, f"the screenshot looks blank ({len(colors)} colours)"
    # text is drawn on the page: in the main column, many rows hold dark (ink) pixels
    inked = sum(any(row[i] < 100 and row[i + 1] < 100 and row[i + 2] < 100
                    for i in range(150 * bpp, 1050 * bpp, bpp)) for row in rows[::4])
    assert inked > 40, f"only {inked} sampled rows hold text"
