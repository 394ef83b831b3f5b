"""@fiftyops/pipelines: a ``PipelineOperator`` template.

``measure_and_export`` runs ``@fiftyops/utils/compute_field`` then ``@fiftyops/io/export_samples``;
its last stage, ``report_cleanup``, is ``always_run``: it runs even when an earlier stage failed,
which is where a real pipeline releases what the others acquired.
"""

from pathlib import Path

from fiftyops_provider.plugins import Inputs, Operator, OperatorConfig, Pipeline, PipelineOperator


class MeasureAndExport(PipelineOperator):
    @property
    def config(self):
        return OperatorConfig(
            name="measure_and_export", label="Measure and export",
            description="Compute a field on every sample, export the dataset, then clean up (always).",
            allow_delegated_execution=True, execution_timeout=7200,
        )

    def resolve_input(self, ctx):
        inputs = Inputs().str("field", default="name_length")
        inputs.str("source_field", default="filepath")
        inputs.str("path", required=True, label="Export file (.json)")
        return inputs

    def resolve_pipeline(self, ctx):
        params = ctx.params
        return (
            Pipeline()
            .stage("@fiftyops/utils/compute_field", name="measure",
                   params={"field": params["field"], "source_field": params["source_field"]})
            .stage("@fiftyops/io/export_samples", name="export", params={"path": params["path"], "format": "json"})
            .stage("@fiftyops/pipelines/report_cleanup", name="cleanup", params={"path": params["path"]}, always_run=True)
        )


class ReportCleanup(Operator):
    @property
    def config(self):
        return OperatorConfig(
            name="report_cleanup", label="Report and clean up",
            description="Always-run last stage: reports whether the export exists and removes its temp file.",
            allow_delegated_execution=True, execution_timeout=300,
        )

    def resolve_input(self, ctx):
        return Inputs().str("path", required=True)

    def execute(self, ctx):
        export = Path(ctx.params["path"])
        Path(str(export) + ".tmp").unlink(missing_ok=True)
        ctx.log("Cleanup done; export %s %s", export, "exists" if export.exists() else "is missing")
        return {"export_exists": export.exists()}


def register(p):
    p.register(MeasureAndExport)
    p.register(ReportCleanup)
