"""The FiftyOps DAGs: the dispatcher and one DAG per enabled plugin operator.

Copy (or symlink) this file into your Airflow DAGs folder. Configure the ``fiftyops_default``
connection (MongoDB holding the operation store) and a ``fiftyops`` pool sized to your execution
quota. See the README.
"""

from fiftyops_provider.dag_factory.factory import register_dags

register_dags(globals())
