"""Loading: policy files read with their positions and checked into a plain model.

Stage 2 of the pipeline. YAML is read safely with every value's line and column; schema
problems are put in words; conditions are parsed and checked (``language``); the result is a
``PolicySet`` of policies, versions and rules that compiles nothing: ``compiling`` does that.
(The size limits every file and condition is held to are in ``evaluator/limits.py``, shared
with the parser.)

- ``yamlsource``: YAML with positions, duplicate keys refused;
- ``settings``: the repository marker (``regelverk.yaml``) and which policies a command means;
- ``facts``: the facts a repository declares beyond the core contact fields;
- ``schema``: schema problems in words, at their places;
- ``policy``: one policy version read and checked into the model (``PolicyVersion``, ``Rule``);
- ``repository``: a policy folder read whole, every problem reported (``PolicySet``);
- ``citation``: how a policy cites the document it encodes;
- ``privacy``: which fields identify a person, and how a value is echoed in a message.
"""
