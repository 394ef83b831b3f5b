"""Who holds an operation, in one format: the ``claim_token`` a claim writes (which executor or
task try runs it) and the ``dispatch.by`` a pick-up writes (which dispatcher hands it to a run).
A later try recognises an earlier try's claim by it, and a reader of a document can tell who
wrote it."""

from __future__ import annotations

CLAIM_SEPARATOR = "#"


def airflow_identity(*parts: object) -> str:
    """``airflow:<dag>:<run>`` (a dispatcher's DAG run) or ``airflow:<dag>:<run>:<task>:<map>``
    (a task instance): an Airflow holder, named by Airflow's own identifiers.

    :param parts: the identifiers, outermost first.
    """
    return ":".join(["airflow", *(str(part) for part in parts)])


def claim_token(holder: str, number: int) -> str:
    """``<holder>#<number>``: the claim ``holder`` makes for its ``number``-th attempt or try,
    unique per holder and number.

    :param holder: who claims (an executor id, a task instance's identity).
    :param number: which of its attempts or tries.
    """
    return f"{holder}{CLAIM_SEPARATOR}{number}"


def is_claim_of(holder: str, token: str | None) -> bool:
    """Whether ``token`` is a claim made by ``holder``, whichever attempt or try.

    :param holder: who may have claimed.
    :param token: a document's ``claim_token``.
    """
    return bool(token) and str(token).rpartition(CLAIM_SEPARATOR)[0] == holder
