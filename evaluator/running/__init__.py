"""Running: contacts in, decisions out.

Stage 4 of the pipeline.

- ``state``: the runtime records a decision works on (a contact's entry, its history, counts);
- ``contacts``: checking incoming contacts against the contact schema;
- ``ndjson``: contacts read from NDJSON lines, decisions written as lines;
- ``engine``: the engine, deciding a patient's contacts in order under the versions in force;
- ``combine``: outputs combined as outputs.yaml says (the plain form; codegen fuses it);
- ``parallel``: the parallel runner, buckets of patients over forked worker processes;
- ``streaming``: inputs of any size in bounded memory;
- ``inmemory``: an NDJSON file decided whole in memory when it fits the memory budget;
- ``formats``: NDJSON, CSV and Parquet in and out;
- ``dask``: decisions on a Dask cluster;
- ``progress``: a progress bar for long runs;
- ``api``: the Python API (``load_repository``, ``Repository``).
"""
