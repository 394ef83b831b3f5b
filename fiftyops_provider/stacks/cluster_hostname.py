"""``[core] hostname_callable`` for cluster workers that share one machine.

Airflow records the hostname a task ran on and fetches a running or finished task's log from
``http://<hostname>:<worker_log_server_port>``. Workers on separate hosts differ by name; the
cluster stack's workers share one, so each gets a loopback address of its own
(``FIFTYOPS_CLUSTER_HOSTNAME``) and serves its logs there.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("FIFTYOPS_CLUSTER_HOSTNAME") or socket.getfqdn()
