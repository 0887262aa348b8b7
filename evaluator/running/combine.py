"""Combining outputs: one value per output from what the applied rules gave it (outputs.yaml).

This is the plain form, which `explain` and the reference engine use. The generated code fuses
the same combining into each version's code and into `finish` (compiling/codegen.py), and the
differential tests hold the two to the same decisions.
"""

from __future__ import annotations

from ..explaining.messages import conflict_finding


def no_outputs(null_outputs: dict, unions: tuple) -> dict:
    """The outputs no rule gave a value: null, and an empty list for a union (contract §3: the
    union of no codes is []). Made anew for each decision: decisions share no list."""
    outputs = dict(null_outputs)
    for name in unions:
        outputs[name] = []
    return outputs


def combine(specs: list, contributions: dict, undetermined: set, findings: list, outputs: dict) -> dict:
    """`outputs` (a decision's blank outputs, see no_outputs) with each output combined as its
    spec says: `all` (a yes/no: false wins, then unknown, then true), `union` (every code
    required, sorted), or `single` (one value; two different ones are a conflict, an error
    finding appended to `findings`, and null). `contributions`: output -> [(value, version,
    rule)] in order; `undetermined`: the outputs some applied rule left unknown."""
    for spec in specs:  # in declared order, so findings come in a stable order
        name = spec.name
        if name not in contributions and name not in undetermined:
            continue
        given = contributions.get(name, ())
        if spec.combine == "all":
            values = {value for value, _, _ in given}
            if False in values:
                outputs[name] = False
            elif name in undetermined:
                outputs[name] = None
            else:
                outputs[name] = True if True in values else None
        elif spec.combine == "union":
            codes = set()
            for value, _, _ in given:
                codes.update(value)
            outputs[name] = sorted(codes)
        else:
            distinct = {}
            for value, v, rule in given:
                distinct.setdefault(value, (v, rule))
            if len(distinct) > 1:
                findings.append(conflict_finding(name, distinct))
                outputs[name] = None
            elif name in undetermined or not distinct:
                outputs[name] = None
            else:
                outputs[name] = next(iter(distinct))
    return outputs
