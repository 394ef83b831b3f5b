"""The operation store: documents compatible with FiftyOne's ``delegated_ops`` collection, their
MongoDB repository, and ``DelegatedOperationService``. No Airflow import here."""

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
from fiftyops_provider.store.repo import MongoDelegatedOperationRepo
from fiftyops_provider.store.service import DelegatedOperationService, OperationPage
from fiftyops_provider.store.states import TERMINAL_STATES, TRANSITIONS, ExecutionRunState

__all__ = [
    "COLLECTION_NAME",
    "SORT_PRESETS",
    "TERMINAL_STATES",
    "TRANSITIONS",
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
    "MongoDelegatedOperationRepo",
    "NotRerunnable",
    "OperationNotFound",
    "OperationPage",
    "SortByField",
    "SortDirection",
    "StoreError",
]
