"""The condition language: syntax tree, parser, value types, functions and the type checker.

Stage 1 of the pipeline (parse → check). Nothing here knows about YAML files, policies or
contacts in bulk: a condition's text goes in, a checked syntax tree or problems come out.

- ``ast``: the syntax tree's frozen nodes, each with its start and end position;
- ``parser``: condition text to syntax tree (Lark, with the grammar in ``grammar/``);
- ``types``: the value types and the names a condition can use;
- ``values``: the language's values at run time (unknown, count ranges) and the one printer of values;
- ``functions``: every function a condition can call, its signature and its implementation;
- ``checker``: the type checker, which every condition passes before anything runs it;
- ``dates``: calendar arithmetic shared by the checker, the compiled code and the interpreter.
"""
