"""Fuzzing harness: hostile conditions, YAML files, contact lines and HTTP requests.

Run `python -m tests.fuzz --help` from the repository root. Each target draws inputs with
hypothesis (or, with `--engine atheris`, lets atheris's coverage-guided mutation drive
hypothesis's strategies) and holds the outcome to what the project promises: its own problems
(a Problem at a place, a ConditionSyntaxError, an HTTP 4xx with a JSON error) or decisions with
status `invalid`, never another exception. See docs/fuzzing.md.
"""
