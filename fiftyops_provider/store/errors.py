"""Store exceptions. They subclass ValueError, as FiftyOne's store raises ValueError for bad ids and
missing documents, so callers written against FiftyOne keep working."""

from __future__ import annotations


class StoreError(ValueError):
    """Base class of every error the operation store raises on bad input."""


class OperationNotFound(StoreError):
    def __init__(self, doc_id: object) -> None:
        super().__init__(f"No delegated operation with id {doc_id!s}; list operations to find a valid id.")
        self.doc_id = doc_id


class InvalidOperationId(StoreError):
    def __init__(self, doc_id: object) -> None:
        super().__init__(f"{doc_id!r} is not a valid operation id (expected a 24-character hex ObjectId).")


class IllegalTransition(StoreError):
    """The requested run-state change is not in the state machine (see ``states.TRANSITIONS``)."""


class InvalidQuery(StoreError):
    """A filter, search, sort or paging value that the store refuses to send to MongoDB."""


class InvalidOperation(StoreError):
    """A document that cannot be queued as given (bad context, oversized values, ...)."""


class NotRerunnable(StoreError):
    """``rerun_operation`` on an operation that may not be rerun."""
