"""`python -m evaluator` is the `regelverk` command."""

from .cli import main

main()
