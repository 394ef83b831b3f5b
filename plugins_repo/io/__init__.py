"""@fiftyops/io: getting samples in and out of a dataset.

``import_samples`` reads a CSV or JSON file (a list of objects), or a directory (one sample per
file, ``filepath`` set); ``export_samples`` writes every sample as CSV or JSON.
"""

import csv
import json
from pathlib import Path

from fiftyops_provider.plugins import Inputs, Operator, OperatorConfig

BATCH = 500


class ImportSamples(Operator):
    @property
    def config(self):
        return OperatorConfig(
            name="import_samples", label="Import samples",
            description="Add samples from a CSV/JSON file or from the files of a directory.",
            allow_delegated_execution=True, execution_timeout=3600,
        )

    def resolve_input(self, ctx):
        return Inputs().str("path", required=True, label="File or directory")

    def execute(self, ctx):
        path = Path(ctx.params["path"]).expanduser()
        if path.is_dir():
            records = [{"filepath": str(p)} for p in sorted(path.rglob("*")) if p.is_file()]
        elif path.suffix.lower() == ".csv":
            with open(path, newline="") as handle:
                records = list(csv.DictReader(handle))
        elif path.suffix.lower() == ".json":
            records = json.loads(path.read_text())
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise ValueError(f"{path} must hold a JSON list of objects")
        else:
            raise ValueError(f"{path} is not a directory, a .csv or a .json file")
        added = 0
        for start in range(0, len(records), BATCH):
            ctx.check_for_termination()
            added += len(ctx.dataset.add_samples(records[start:start + BATCH]))
            ctx.set_progress(added / len(records), f"{added}/{len(records)} samples")
        return {"imported": added, "source": str(path)}


class ExportSamples(Operator):
    @property
    def config(self):
        return OperatorConfig(
            name="export_samples", label="Export samples",
            description="Write every sample to a CSV or JSON file.",
            allow_delegated_execution=True, execution_timeout=3600,
        )

    def resolve_input(self, ctx):
        inputs = Inputs().str("path", required=True, label="Output file")
        inputs.enum("format", ["json", "csv"], default="json")
        return inputs

    def resolve_run_name(self, ctx):
        return f"Export to {ctx.params.get('format', 'json').upper()}"

    def execute(self, ctx):
        rows = [{k: (str(v) if k == "_id" else v) for k, v in sample.items()} for sample in ctx.dataset]
        path = Path(ctx.params["path"]).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        if ctx.params["format"] == "csv":
            fields = sorted({key for row in rows for key in row})
            with open(path, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=fields)
                writer.writeheader()
                writer.writerows(rows)
        else:
            path.write_text(json.dumps(rows, indent=2, default=str))
        ctx.set_progress(1.0, f"{len(rows)} samples written")
        return {"exported": len(rows), "path": str(path)}


def register(p):
    p.register(ImportSamples)
    p.register(ExportSamples)
