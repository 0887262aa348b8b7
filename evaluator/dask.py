"""The documented import path of Dask support (docs/data.md); the code is in running/dask.py."""

from .running.dask import (
    SchedulerUnreachable,
    decide_partition,
    evaluate_dataframe,
    evaluate_on_cluster,
)

__all__ = ["SchedulerUnreachable", "decide_partition", "evaluate_dataframe", "evaluate_on_cluster"]
