"""Which operations a FiftyOps deployment takes, in a database it may share with FiftyOne or with
another orchestrator.

An operation is this deployment's when it was sent here (its ``delegation_target`` is one of the
deployment's ``delegation_targets``) or when it was sent nowhere in particular (no target) and its
operator is one the deployment has a runner for. Anything else (another target, or no target and
an operator nobody here can run) is someone else's work: it is never picked up, claimed, admitted
or failed, and it does not wake the dispatcher. An operation sent here that cannot be run is
picked up and failed with a message saying why, so it does not wait forever.

One definition, used by the pick-up and admission queries (the service) and by the dispatcher's
change-stream filter and work check (the triggers), so "is there work?" and "take it" agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DEFAULT_DELEGATION_TARGETS = "fiftyops"


def parse_delegation_targets(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"a, b"`` or ``["a", "b"]`` -> the target names, in order, without repeats; None or blank
    gives the default. The first is the one FiftyOps' own ``delegate()`` sends operations to.

    :param value: the setting (``[fiftyops] delegation_targets`` / ``FIFTYOPS_DELEGATION_TARGETS``).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        value = DEFAULT_DELEGATION_TARGETS
    names = value.split(",") if isinstance(value, str) else list(value)
    targets = tuple(dict.fromkeys(str(name).strip() for name in names if str(name).strip()))
    if not targets:
        raise ValueError("delegation_targets must name at least one target, e.g. 'fiftyops'.")
    return targets


@dataclass(frozen=True)
class Routing:
    """The operations a deployment takes.

    :param targets: the delegation targets it serves.
    :param runnable: the operator URIs it has a runner for; None means any operator (a caller that
        runs whatever it is given, e.g. a test source).
    """

    targets: frozenset[str]
    runnable: frozenset[str] | None = None

    @classmethod
    def of(cls, targets: str | Iterable[str] | None, runnable: Iterable[str] | None = None) -> Routing:
        return cls(frozenset(parse_delegation_targets(targets)), None if runnable is None else frozenset(runnable))

    def query(self, prefix: str = "") -> dict[str, Any]:
        """The MongoDB filter of this deployment's operations. ``prefix`` is prepended to the
        field paths (``"fullDocument."`` in a change-stream ``$match``)."""
        target = f"{prefix}delegation_target"
        untargeted: dict[str, Any] = {target: None}  # null or missing, as FiftyOne writes it
        if self.runnable is not None:
            untargeted[f"{prefix}operator"] = {"$in": sorted(self.runnable)}
        return {"$or": [{target: {"$in": sorted(self.targets)}}, untargeted]}

    def can_run(self, operator: str) -> bool:
        """Whether this deployment has a runner for ``operator``."""
        return self.runnable is None or operator in self.runnable
