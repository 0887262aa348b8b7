"""Explaining: what a decision records about itself, and the accounts people and machines read.

Stage 5 of the pipeline.

- ``trace``: the records of how each version and rule came out for a contact (``explain``);
- ``messages``: the sentences of findings and accounts in both languages, and the one printer
  of values they all use;
- ``explain``: a decision's trace as an account (Swedish or English text) or as JSON;
- ``provenance``: where a decision came from (engine version, content hashes, git commit).
"""
