"""The policy author's tools, built on the pipeline and apart from it.

- ``validate``: everything `regelverk validate` checks, and problems as CI annotations;
- ``lint``: warnings on a loaded policy set (unused parameters, unreachable rules, conflicts);
- ``fmt``: one canonical layout for policy files, comments kept;
- ``diff`` and ``meaning``: what a change to a policy changes, in text and in meaning;
- ``impact`` and ``impact_render``: which decisions a change flips, over real contacts;
- ``render``: the policies as pages a reviewer reads;
- ``testing`` and ``testreport``: the YAML policy tests, and their reports (JSON, JUnit);
- ``mutate``: mutation testing of the policy tests;
- ``new_version``: a new version of a policy, dated, the previous one ended;
- ``init``: a region's policy repository from nothing;
- ``editor_schemas``: the JSON Schemas a repository's editors and APIs use.
"""
