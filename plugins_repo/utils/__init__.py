"""@fiftyops/utils: small operators that show the patterns a delegated operator needs.

* ``count_samples``: the simplest useful operator (read the dataset, return a result).
* ``compute_field``: touch every sample, reporting progress and honouring termination at each
  batch, so a stopped run keeps the work it finished.
* ``sleep``: a long-running demo operator (progress every second, a kill checkpoint each second).
* ``fail``: raises, to show how errors and tracebacks are recorded.
"""

import time

from fiftyops_provider.plugins import Inputs, OperationTerminated, Operator, OperatorConfig

BATCH = 100


class CountSamples(Operator):
    @property
    def config(self):
        return OperatorConfig(
            name="count_samples", label="Count samples", description="Count the samples of a dataset.",
            allow_delegated_execution=True, execution_timeout=600,
        )

    def execute(self, ctx):
        count = ctx.dataset.count()
        ctx.log("Dataset %s has %d samples", ctx.dataset.name, count)
        return {"dataset": ctx.dataset.name, "count": count}


class ComputeField(Operator):
    @property
    def config(self):
        return OperatorConfig(
            name="compute_field", label="Compute a field",
            description="Set `field` on every sample to the length of `source_field` (a string or list).",
            allow_delegated_execution=True, execution_timeout=3600, on_reset="rerun", max_attempts=3,
        )

    def resolve_input(self, ctx):
        inputs = Inputs()
        inputs.str("field", required=True, label="Field to write")
        inputs.str("source_field", default="filepath", label="Field to measure")
        return inputs

    def resolve_run_name(self, ctx):
        return f"Compute {ctx.params.get('field', 'field')}"

    def execute(self, ctx):
        dataset = ctx.dataset
        total = dataset.count()
        done = 0
        batch = {}
        try:
            for sample in dataset:
                value = sample.get(ctx.params["source_field"])
                batch[sample["_id"]] = len(value) if hasattr(value, "__len__") else None
                if len(batch) == BATCH:
                    ctx.check_for_termination()
                    dataset.set_values(ctx.params["field"], batch)
                    done += len(batch)
                    batch = {}
                    ctx.set_progress(done / total, f"{done}/{total} samples")
            dataset.set_values(ctx.params["field"], batch)
            done += len(batch)
        except OperationTerminated:
            ctx.log("Stopped after %d of %d samples; their values are saved", done, total)
            raise
        ctx.set_progress(1.0, f"{done}/{total} samples")
        return {"updated": done}


class Sleep(Operator):
    @property
    def config(self):
        return OperatorConfig(
            name="sleep", label="Sleep", description="Wait `seconds`, reporting progress each second (for demos).",
            allow_delegated_execution=True, execution_timeout=3600,
        )

    def resolve_input(self, ctx):
        return Inputs().int("seconds", default=10, minimum=0, maximum=86400, label="Seconds")

    def execute(self, ctx):
        seconds = ctx.params["seconds"]
        for second in range(seconds):
            ctx.check_for_termination()
            ctx.set_progress(second / seconds if seconds else 1.0, f"{second}/{seconds} s")
            print(f"slept {second} of {seconds} seconds", flush=True)
            time.sleep(1)
        return {"slept": seconds}


class Fail(Operator):
    @property
    def config(self):
        return OperatorConfig(
            name="fail", label="Fail on purpose", description="Raise an error (to see how failures look).",
            allow_delegated_execution=True, execution_timeout=60,
        )

    def resolve_input(self, ctx):
        return Inputs().str("message", default="this operator always fails")

    def execute(self, ctx):
        ctx.log("About to fail")
        raise RuntimeError(ctx.params["message"])


def register(p):
    p.register(CountSamples)
    p.register(ComputeField)
    p.register(Sleep)
    p.register(Fail)
