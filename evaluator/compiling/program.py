"""The compiled program of a policy set: each version's generated code with the compile-time facts the engine needs."""

from __future__ import annotations

from dataclasses import dataclass

from ..language import ast
from .codegen import UNTOUCHED, GeneratedVersion, compile_finish, compile_version, output_slots
from ..loading.policy import PolicyVersion
from ..resources import load_schema


@dataclass(frozen=True)
class VersionProgram:
    """One policy version, compiled: its generated functions and what the engine asks of it."""

    version: PolicyVersion
    code: GeneratedVersion
    replay_rules: tuple[int, ...]  # the rules a replayed history runs (they set outputs read with `was`)

    @property
    def source(self) -> str:
        return self.code.source


class Program:
    """Every version of a policy set compiled to generated code, and the function that turns a
    contact's output accumulator into its outputs (see codegen)."""

    def __init__(self, policy_set, outputs: list):
        self.slots = output_slots(outputs)
        self.blank = [UNTOUCHED] * len(self.slots)  # a contact's accumulator before any rule
        self.finish = compile_finish(self.slots)
        required = frozenset(load_schema("contact.schema.json").get("required", ()))
        versions = list(policy_set.versions())
        read_back = {n.output for v in versions for r in v.rules for n in ast.walk(r.when) if isinstance(n, ast.Was)}
        self.versions: dict[int, VersionProgram] = {}
        for v in versions:
            replay = tuple(k for k, r in enumerate(v.rules) if read_back.intersection(r.decides))
            code = compile_version(v, policy_set.fields, self.slots, required, replay)
            self.versions[id(v)] = VersionProgram(v, code, replay)
        self._keep = versions  # the versions whose ids key the table above stay alive

    def of(self, version: PolicyVersion) -> VersionProgram:
        return self.versions[id(version)]


def version_source(policy_set, outputs: list, policy_id: str, version: str | None = None) -> str:
    """The generated source of a policy's version (the latest when `version` is None)."""
    policy = policy_set.policies[policy_id]
    chosen = [v for v in policy.versions if version is None or v.version == version]
    if not chosen:
        known = ", ".join(v.version for v in policy.versions)
        raise KeyError(f"policy {policy_id} has no version {version} (it has {known})")
    v = max(chosen, key=lambda v: v.key)
    return Program(policy_set, outputs).of(v).source
