"""Compiling: a checked policy version turned into code that decides contacts, once.

Stage 3 of the pipeline.

- ``codegen``: Python source generated from the checked syntax tree, compiled with ``compile()``;
- ``closures``: history counts and windows (indexes over a patient's earlier contacts), and the
  conditions the generated code hands them, compiled into closures;
- ``program``: the compiled program of a policy set: each version's generated code with every
  compile-time fact the engine needs;
- ``reference``: a deliberately simple tree-walking interpreter, the yardstick the generated
  code is tested against.
"""
