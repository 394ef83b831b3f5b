"""The params every operator DAG run takes besides the operator's inputs, defined once: the DAG
factory puts them in the Trigger form, and the hook leaves them out of the inputs of an operation
queued from that form."""

from __future__ import annotations

from airflow.sdk import Param

RUN_PARAMS = {
    "operation_id": Param(
        None,
        type=["null", "string"],
        title="Operation id",
        description="Run this queued operation (the dispatcher sets it).",
    ),
    "rerun_of": Param(
        None, type=["null", "string"], title="Rerun of", description="Run a new copy of this finished operation."
    ),
    "dataset": Param(
        None,
        type=["null", "string"],
        title="Dataset",
        description="Dataset name, to queue a new operation from this form.",
    ),
}
