"""Trace records: how each policy version and each rule came out for one contact, for `explain`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..loading.policy import PolicyVersion, Rule


@dataclass
class RuleTrace:
    """How one rule came out for one contact: its result, what it gave, what it used and lacked."""

    rule: Rule
    result: bool | None
    outputs: dict
    evidence: list  # the earlier contacts (running.state.Entry) it counted
    missing: list[str]


@dataclass
class VersionTrace:
    """Whether one policy version applied to a contact (None: could not be told), and its rules."""

    policy: str
    version: PolicyVersion | None  # None when no version of the policy was in force
    applies: bool | None
    missing: list[str] = field(default_factory=list)
    rules: list[RuleTrace] = field(default_factory=list)
