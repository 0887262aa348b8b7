"""The editor settings `regelverk init` writes work in a real YAML language server.

yaml-language-server (npm; the server behind VS Code's YAML extension and other editors) is
driven over LSP with the repository's own .vscode/settings.json, and must flag an unknown key
and a value of the wrong kind at their lines in a policy file of the new repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
from click.testing import CliRunner

from evaluator.cli import main

SERVER = shutil.which("yaml-language-server")


class LanguageServer:
    """A minimal LSP client over the server's standard input and output."""

    def __init__(self, command: list[str], settings: dict):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.settings = settings
        self.next_id = 0

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def request(self, method: str, params: dict) -> int:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.next_id

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def receive(self) -> dict:
        length = None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the language server closed its output")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
        return json.loads(self.process.stdout.read(length))

    def answer(self, message: dict) -> None:
        """Answer the server's own requests: its settings, and registrations (accepted)."""
        if message.get("method") == "workspace/configuration":
            items = message["params"]["items"]
            result = [self.settings if item.get("section") == "yaml" else None for item in items]
        else:
            result = None
        self.send({"id": message["id"], "result": result})

    def diagnostics(self, uri: str, seconds: float = 60) -> list[dict]:
        """The first non-empty diagnostics the server publishes for `uri`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = self.receive()
            if "method" in message and "id" in message:
                self.answer(message)
            elif message.get("method") == "textDocument/publishDiagnostics":
                if message["params"]["uri"] == uri and message["params"]["diagnostics"]:
                    return message["params"]["diagnostics"]
        raise AssertionError(f"no diagnostics for {uri} within {seconds} s")

    def close(self) -> None:
        try:
            self.request("shutdown", {})
            self.notify("exit", {})
        finally:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def server():
    if SERVER is None:
        if os.environ.get("CI"):
            pytest.fail("yaml-language-server is missing: .ci/run installs it (npm install -g yaml-language-server)")
        pytest.skip("yaml-language-server is missing (npm install -g yaml-language-server); CI installs it")
    return SERVER


def test_the_generated_editor_settings_flag_mistakes_at_their_lines(tmp_path, monkeypatch, server):
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["init", "repo", "--region", "sorland"]).exit_code == 0
    root = (tmp_path / "repo").resolve()
    vscode = json.loads((root / ".vscode/settings.json").read_text(encoding="utf-8"))
    # As the editor reads the workspace's settings: schema paths relative to the workspace.
    settings = {
        "validate": vscode["yaml.validate"], "completion": vscode["yaml.completion"], "hover": True,
        "schemas": {(root / path).as_uri(): globs for path, globs in vscode["yaml.schemas"].items()},
        "schemaStore": {"enable": False},
    }
    policy = root / "policies/sorland/sorland-distance-contact/1.0.yaml"
    lines = policy.read_text(encoding="utf-8").splitlines()
    # Two mistakes an author makes: a key the format does not have, and a date written as a number.
    unknown_at = lines.index("applies_when: region = \"sorland\" and channel in [\"video\", \"phone\"]")
    lines.insert(unknown_at, "colour: red")
    wrong_at = next(i for i, line in enumerate(lines) if line.startswith("valid_from:"))
    lines[wrong_at] = "valid_from: 2026"
    text = "\n".join(lines) + "\n"
    policy.write_text(text, encoding="utf-8")
    # The modeline is taken out: the association comes from the settings alone.
    text_without_modeline = "\n".join(line for line in lines if "yaml-language-server:" not in line) + "\n"
    shift = 1 if lines[0].startswith("# yaml-language-server:") else 0

    lsp = LanguageServer([server, "--stdio"], settings)
    try:
        lsp.request("initialize", {
            "processId": os.getpid(), "rootUri": root.as_uri(),
            "workspaceFolders": [{"uri": root.as_uri(), "name": "repo"}],
            "capabilities": {"workspace": {"configuration": True},
                             "textDocument": {"publishDiagnostics": {}, "completion": {}}},
        })
        while "result" not in (message := lsp.receive()) or message.get("id") != 1:
            if "method" in message and "id" in message:
                lsp.answer(message)
        lsp.notify("initialized", {})
        lsp.notify("workspace/didChangeConfiguration", {"settings": {"yaml": settings}})
        for document, content in ((policy, text_without_modeline),):
            lsp.notify("textDocument/didOpen", {"textDocument": {
                "uri": document.as_uri(), "languageId": "yaml", "version": 1, "text": content}})
        found = lsp.diagnostics(policy.as_uri())
    finally:
        lsp.close()
    by_line = {}
    for d in found:
        by_line.setdefault(d["range"]["start"]["line"], []).append(d["message"])
    # LSP lines count from 0; the file without its modeline is one line shorter.
    assert any("colour" in m or "not allowed" in m for m in by_line.get(unknown_at - shift, [])), found
    assert any("string" in m.lower() or "type" in m.lower() for m in by_line.get(wrong_at - shift, [])), found
    assert set(by_line) == {unknown_at - shift, wrong_at - shift}, found
