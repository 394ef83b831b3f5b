"""The operation store: documents compatible with FiftyOne's ``delegated_ops`` collection, their
MongoDB repository (private to this package), and ``DelegatedOperationService``, the one way in.
No Airflow import here."""

from fiftyops_provider.store.documents import (
    COLLECTION_NAME,
    DelegatedOperationDocument,
    ExecutionProgress,
    ExecutionResult,
)
from fiftyops_provider.store.errors import (
    IllegalTransition,
    InvalidOperation,
    InvalidOperationId,
    InvalidQuery,
    NotRerunnable,
    OperationNotFound,
    StoreError,
)
from fiftyops_provider.store.query import (
    SORT_PRESETS,
    DelegatedOperationPagingParams,
    SortByField,
    SortDirection,
)
from fiftyops_provider.store.schema import SCHEMA_VERSION, StoreSchemaTooNew
from fiftyops_provider.store.service import DelegatedOperationService, OperationPage
from fiftyops_provider.store.states import TERMINAL_STATES, TRANSITIONS, WAITING_STATES, ExecutionRunState

__all__ = [
    "COLLECTION_NAME",
    "SCHEMA_VERSION",
    "SORT_PRESETS",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "WAITING_STATES",
    "DelegatedOperationDocument",
    "DelegatedOperationPagingParams",
    "DelegatedOperationService",
    "ExecutionProgress",
    "ExecutionResult",
    "ExecutionRunState",
    "IllegalTransition",
    "InvalidOperation",
    "InvalidOperationId",
    "InvalidQuery",
    "NotRerunnable",
    "OperationNotFound",
    "OperationPage",
    "SortByField",
    "SortDirection",
    "StoreError",
    "StoreSchemaTooNew",
]
