"""Turning list/count arguments into MongoDB queries, refusing anything unsafe.

Filters can come from untrusted places (a CLI flag, a web request), so only known fields are
accepted, values must be plain scalars (a list means "any of"), keys never start with ``$``, and
search regexes are bounded and must compile. Every refusal is an ``InvalidQuery`` raised before
MongoDB is asked anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from bson import ObjectId

from fiftyops_provider.store.errors import InvalidQuery
from fiftyops_provider.store.states import parse_state

DATASET_NAME_FIELD = "context.request_params.dataset_name"
MAX_REGEX_LENGTH = 256
MAX_PAGE_SIZE = 1000
MAX_FILTER_VALUES = 100
MAX_SKIP = 2**63 - 1  # MongoDB takes a 64-bit skip


class SortByField(str, Enum):
    """Sortable fields. ``created_at`` is derived from ``_id`` (FiftyOne documents have no such
    field, but every document has an ObjectId), so "most recent" works for documents of both."""

    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    SCHEDULED_AT = "scheduled_at"
    QUEUED_AT = "queued_at"
    COMPLETED_AT = "completed_at"
    STARTED_AT = "started_at"
    FAILED_AT = "failed_at"
    OPERATOR = "operator"
    LABEL = "label"

    @property
    def mongo_field(self) -> str:
        return "_id" if self is SortByField.CREATED_AT else self.value


class SortDirection(int, Enum):
    ASCENDING = 1
    DESCENDING = -1


# The Runs page's named orders.
SORT_PRESETS: dict[str, tuple[SortByField, SortDirection]] = {
    "recent": (SortByField.CREATED_AT, SortDirection.DESCENDING),
    "updated": (SortByField.UPDATED_AT, SortDirection.DESCENDING),
    "oldest": (SortByField.CREATED_AT, SortDirection.ASCENDING),
    "operator": (SortByField.OPERATOR, SortDirection.ASCENDING),
}

SEARCH_FIELDS = {"operator": "operator", "label": "label", "delegated_operation": "operator"}


@dataclass
class DelegatedOperationPagingParams:
    """Sort and page. The default is the Runs page's: most recent first, ten per page."""

    sort_by: SortByField | str = SortByField.CREATED_AT
    sort_direction: SortDirection | int = SortDirection.DESCENDING
    skip: int = 0
    limit: int = 10

    @classmethod
    def coerce(cls, value: DelegatedOperationPagingParams | Mapping[str, Any] | None) -> DelegatedOperationPagingParams:
        if value is None:
            return cls()
        if isinstance(value, cls):
            paging = value
        elif isinstance(value, Mapping):
            unknown = set(value) - {"sort_by", "sort_direction", "skip", "limit"}
            if unknown:
                raise InvalidQuery(f"Unknown paging keys {sorted(unknown)}; use sort_by, sort_direction, skip, limit.")
            paging = cls(**value)
        else:
            raise InvalidQuery("paging must be a DelegatedOperationPagingParams or a dict.")
        paging.sort_by = _sort_field(paging.sort_by)
        try:
            paging.sort_direction = SortDirection(int(paging.sort_direction))
        except (TypeError, ValueError):
            raise InvalidQuery("sort_direction must be 1 (ascending) or -1 (descending).") from None
        for name in ("skip", "limit"):
            value_ = getattr(paging, name)
            if not isinstance(value_, int) or isinstance(value_, bool) or value_ < 0:
                raise InvalidQuery(f"{name} must be a non-negative integer, got {value_!r}.")
        if paging.skip > MAX_SKIP:
            raise InvalidQuery(f"skip must be at most {MAX_SKIP}, got {paging.skip}.")
        if not 1 <= paging.limit <= MAX_PAGE_SIZE:
            raise InvalidQuery(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {paging.limit}.")
        return paging

    def mongo_sort(self) -> list[tuple[str, int]]:
        field_ = _sort_field(self.sort_by).mongo_field
        direction = int(self.sort_direction)
        # _id breaks ties so pages never overlap or skip documents with equal sort keys.
        return [(field_, direction)] if field_ == "_id" else [(field_, direction), ("_id", direction)]


def _sort_field(value: object) -> SortByField:
    try:
        return SortByField(value.value if isinstance(value, Enum) else str(value).lower())
    except ValueError:
        allowed = ", ".join(f.value for f in SortByField)
        raise InvalidQuery(f"Cannot sort by {value!r}; use one of: {allowed}.") from None


def to_object_id(value: object, what: str = "id") -> ObjectId:
    if isinstance(value, ObjectId):
        return value
    if isinstance(value, str) and ObjectId.is_valid(value):
        return ObjectId(value)
    raise InvalidQuery(f"{what} {value!r} is not a valid ObjectId (24 hex characters).")


def _scalar(field_: str, value: Any) -> Any:
    if field_ == "run_state":
        return parse_state(value).value
    if field_ in ("dataset_id", "parent_id", "rerun_of") and value is not None:
        return to_object_id(value, field_)
    if value is None or isinstance(value, (str, bool, int, float, ObjectId, datetime)):
        return value
    raise InvalidQuery(
        f"Filter {field_!r} takes a plain value (string, number, boolean, null) or a list of them, "
        f"not {type(value).__name__}; query operators are not accepted."
    )


# Fields a caller may filter on, mapped to their document paths.
FILTER_FIELDS = {
    "operator": "operator",
    "label": "label",
    "run_state": "run_state",
    "delegation_target": "delegation_target",
    "dataset_id": "dataset_id",
    "dataset_name": DATASET_NAME_FIELD,
    DATASET_NAME_FIELD: DATASET_NAME_FIELD,
    "pinned": "pinned",
    "archived": "archived",
    "queued_by": "queued_by",
    "user": "queued_by",
    "parent_id": "parent_id",
    "rerun_of": "rerun_of",
    "rerunnable": "rerunnable",
    "monitored": "monitored",
}


def build_filter(filters: Mapping[str, Any] | None, include_archived: bool = True) -> dict[str, Any]:
    """An exact-match MongoDB filter from ``{field: value | [values]}``; ``None`` values are skipped
    (FiftyOne's "not given"), so pass ``archived=False``-style flags explicitly."""
    query: dict[str, Any] = {}
    for key, value in (filters or {}).items():
        if not isinstance(key, str) or key.startswith("$") or key not in FILTER_FIELDS:
            allowed = ", ".join(sorted(k for k in FILTER_FIELDS if "." not in k))
            raise InvalidQuery(f"Cannot filter on {key!r}; filterable fields are: {allowed}.")
        if value is None:
            continue
        path = FILTER_FIELDS[key]
        if isinstance(value, (list, tuple, set, frozenset)):
            values = list(value)
            if not values or len(values) > MAX_FILTER_VALUES:
                raise InvalidQuery(f"Filter {key!r} needs between 1 and {MAX_FILTER_VALUES} values.")
            query[path] = {"$in": [_scalar(key, v) for v in values]}
        else:
            query[path] = _scalar(key, value)
    if not include_archived and "archived" not in query:
        query["archived"] = {"$ne": True}
    return query


@dataclass(frozen=True)
class LiteralSearch:
    """Text to find as typed (a substring, not a regex) in ``fields``. Its length limit applies
    to the text, not to its escaped form, which can be twice as long."""

    text: str
    fields: tuple[str, ...] = ("operator",)


def build_search(search: str | LiteralSearch | Mapping[str, Iterable[str]] | None) -> dict[str, Any]:
    """Case-sensitive search. A string is a literal substring of the operator URI, a
    ``LiteralSearch`` one of the fields it names; the FiftyOne dict form
    ``{regex: ["operator", "label"]}`` searches a regex over the named fields."""
    if search is None:
        return {}
    if isinstance(search, str):
        search = LiteralSearch(search)
    if isinstance(search, LiteralSearch):
        pattern = re.escape(_checked_text(search.text))
        return {"$or": [{_search_field(name): {"$regex": pattern}} for name in search.fields]}
    if not isinstance(search, Mapping) or not search:
        raise InvalidQuery("search must be a string or a non-empty {regex: [fields]} dict.")
    clauses: list[dict[str, Any]] = []
    for pattern, search_fields in search.items():
        _check_regex(pattern)
        if isinstance(search_fields, str) or not search_fields:
            raise InvalidQuery("Each search regex maps to a list of fields, e.g. {'abc': ['operator']}.")
        clauses.extend({_search_field(name): {"$regex": pattern}} for name in search_fields)
    return {"$or": clauses}


def _search_field(name: object) -> str:
    if name not in SEARCH_FIELDS:
        raise InvalidQuery(f"Invalid search field {name!r}; search over: operator, label.")
    return SEARCH_FIELDS[name]


def _checked_text(text: object) -> str:
    if not isinstance(text, str) or not text:
        raise InvalidQuery("A search pattern must be a non-empty string.")
    if len(text) > MAX_REGEX_LENGTH:
        raise InvalidQuery(f"Search text is {len(text)} characters; the limit is {MAX_REGEX_LENGTH}.")
    if "\x00" in text:
        raise InvalidQuery("Search text contains a NUL character (\\x00), which MongoDB cannot search for; remove it.")
    return text


# Python regex syntax that MongoDB's PCRE refuses: ``\N{name}``, ``\u``/``\U`` escapes and the
# ``a``/``L``/``u`` inline flags. An escaped backslash is matched first so ``\\u`` is not one.
PYTHON_ONLY_SYNTAX = re.compile(r"\\\\|(?P<bad>\\N\{|\\[uU]|\(\?[imsx-]*[aLu][aiLmsux-]*[:)])")


# A quantified group whose body holds a quantifier: the shape of catastrophic backtracking.
NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)(?:[+*]|\{\d*,)")


def _check_regex(pattern: object) -> None:
    pattern = _checked_text(pattern)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidQuery(f"Search pattern {pattern!r} is not a valid regex: {exc}.") from None
    python_only = next((m["bad"] for m in PYTHON_ONLY_SYNTAX.finditer(pattern) if m["bad"]), None)
    if python_only:
        raise InvalidQuery(
            f"Search pattern {pattern!r} uses {python_only!r}, which Python accepts but MongoDB does not; "
            "write the character itself, or drop the (?a)/(?L)/(?u) flag."
        )
    if NESTED_QUANTIFIER.search(pattern):
        raise InvalidQuery(
            f"Search pattern {pattern!r} repeats a group that itself repeats (like '(a+)+'), which can make MongoDB "
            "backtrack for minutes; search for a plain substring or a simpler pattern."
        )


def combine(*parts: dict[str, Any]) -> dict[str, Any]:
    """AND together filters that may both carry ``$or`` clauses."""
    parts = tuple(p for p in parts if p)
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    return {"$and": list(parts)}
