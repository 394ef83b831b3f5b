"""@fiftyops/webhook: using a declared secret.

The plugin declares ``FIFTYOPS_WEBHOOK_TOKEN`` in fiftyone.yml; the executor passes its value
(from the environment, or an Airflow Variable under Airflow) as ``ctx.secret(...)`` and masks it in
the captured log. The operator signs a summary of the dataset with it, as a webhook sender would.
"""

import hashlib
import hmac
import json

from fiftyops_provider.plugins import Operator, OperatorConfig

TOKEN = "FIFTYOPS_WEBHOOK_TOKEN"


class SignSummary(Operator):
    @property
    def config(self):
        return OperatorConfig(
            name="sign_summary", label="Sign a dataset summary",
            description="HMAC-sign {dataset, count} with the plugin's secret token.",
            allow_delegated_execution=True, execution_timeout=300,
        )

    def execute(self, ctx):
        token = ctx.secret(TOKEN)
        if not token:
            raise RuntimeError(f"Set the {TOKEN} secret (environment variable or Airflow Variable) to use this operator")
        body = json.dumps({"dataset": ctx.dataset.name, "count": ctx.dataset.count()}, sort_keys=True)
        ctx.log("Signing %s with token %s", body, token)  # the token is masked as *** in the log
        signature = hmac.new(token.encode(), body.encode(), hashlib.sha256).hexdigest()
        return {"body": body, "signature": signature}


def register(p):
    p.register(SignSummary)
