"""Bad input gets a clear exception and writes nothing."""

from __future__ import annotations

import pytest

from fiftyops_provider.store import InvalidOperation, InvalidQuery

HOSTILE_LIST_ARGS = [
    ({"paging": {"sort_by": "$where"}}, "Cannot sort by"),
    ({"paging": {"sort_by": "password"}}, "Cannot sort by"),
    ({"paging": {"limit": 0}}, "limit"),
    ({"paging": {"limit": 10**6}}, "limit"),
    ({"paging": {"skip": -1}}, "skip"),
    ({"paging": {"sort_direction": 2}}, "sort_direction"),
    ({"paging": {"evil": 1}}, "Unknown paging keys"),
    ({"search": {"(": ["operator"]}}, "not a valid regex"),
    ({"search": {"a" * 300: ["operator"]}}, "limit is 256"),
    ({"search": {"(a+)+$": ["operator"]}}, "repeats a group"),
    ({"search": {"(x|y*){2,}z": ["label"]}}, "repeats a group"),
    ({"search": {"x": ["context"]}}, "Invalid search field"),
    ({"search": {"x": "operator"}}, "list of fields"),
    ({"search": 5}, "search must be"),
    ({"run_state": "exploded"}, "Unknown run state"),
    ({"operator": {"$ne": None}}, "query operators are not accepted"),
    ({"dataset_id": {"$gt": ""}}, "not a valid ObjectId"),
    ({"pinned": {"$where": "sleep(1000)"}}, "query operators"),
    ({"$where": "sleep(1000)"}, "Cannot filter on"),
    ({"secret_field": 1}, "Cannot filter on"),
    ({"run_state": ["queued"] * 101}, "between 1 and 100"),
    # Python accepts these, MongoDB refuses them (or overflows) when the query runs
    ({"paging": {"skip": 99999999999999999999}}, "skip must be at most"),
    ({"search": {r"\N{DIGIT ONE}": ["operator"]}}, "Python accepts but MongoDB does not"),
    ({"search": {"(?a)x": ["operator"]}}, "Python accepts but MongoDB does not"),
    ({"search": {"(?u:x)": ["label"]}}, "Python accepts but MongoDB does not"),
    ({"search": {r"\u0031": ["operator"]}}, "Python accepts but MongoDB does not"),
]


def nested(depth: int) -> dict:
    """``{"k": {"k": ... {}}}``, ``depth`` levels, built without recursion."""
    value: dict = {}
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize("kwargs,message", HOSTILE_LIST_ARGS)
def test_hostile_list_arguments_are_refused(service, kwargs, message):
    service.queue_operation("@org/p/op")
    with pytest.raises(InvalidQuery, match=message.replace("(", r"\(")):
        service.list_operations(**kwargs)


def test_hostile_count_filters_are_refused(service):
    with pytest.raises(InvalidQuery):
        service.count({"$or": [{}]})
    with pytest.raises(InvalidQuery):
        service.count("run_state")


BAD_QUEUE_ARGS = [
    ({"operator": ""}, "operator must be"),
    ({"operator": None}, "operator must be"),
    ({"operator": "x" * 600}, "limit is 512"),
    ({"operator": "@o/p/op", "context": {"params": {}}}, "request_params"),
    ({"operator": "@o/p/op", "context": {"request_params": []}}, "must be a dict"),
    ({"operator": "@o/p/op", "context": {"request_params": {"params": [1, 2]}}}, "dict of operator inputs"),
    (
        {"operator": "@o/p/op", "context": {"request_params": {"params": {"blob": "x" * (2 * 1024 * 1024)}}}},
        "the limit is",
    ),
    ({"operator": "@o/p/op", "context": {"request_params": {"params": {"f": object()}}}}, "cannot be stored"),
    ({"operator": "@o/p/op", "metadata": ["x"]}, "metadata must be"),
    ({"operator": "@o/p/op", "execution_timeout": -5}, "execution_timeout"),
    ({"operator": "@o/p/op", "initial_state": "running"}, "start scheduled or queued"),
    # values MongoDB would refuse after Python recursed through them, or the Run page cannot show
    ({"operator": "@o/p/op", "context": {"request_params": {"params": {"deep": nested(250)}}}}, "nests more than"),
    ({"operator": "@o/p/op", "context": {"request_params": {"params": {"n": float("nan")}}}}, "finite numbers"),
    ({"operator": "@o/p/op", "context": {"request_params": {"params": {"n": [float("inf")]}}}}, "finite numbers"),
    ({"operator": "@o/p/op", "context": {"request_params": {"params": {"o": {"$where": "1"}}}}}, "cannot start with"),
    ({"operator": "@o/p/op", "context": {"request_params": {"params": {"o": {"a.b": 1}}}}}, "contain '.'"),
]


@pytest.mark.parametrize("kwargs,message", BAD_QUEUE_ARGS)
def test_bad_operations_are_refused_and_nothing_is_written(service, operations, kwargs, message):
    with pytest.raises(ValueError, match=message):
        service.queue_operation(**kwargs)
    assert operations.count_documents({}) == 0


def test_unstorable_result_is_refused_and_the_run_stays_running(service):
    doc = service.queue_operation("@o/p/op", initial_state="queued")
    service.set_running(doc.id)
    with pytest.raises(InvalidOperation, match="JSON-like"):
        service.set_completed(doc.id, result={"f": object()})
    assert service.get(doc.id).run_state == "running"


def test_oversized_label_is_refused(service):
    doc = service.queue_operation("@o/p/op")
    with pytest.raises(InvalidOperation):
        service.set_label(doc.id, "y" * 1000)
    assert service.get(doc.id).label == "@o/p/op"


def test_values_nested_deeper_than_pythons_stack_are_refused(service, operations):
    """An iterative check: a 100,000-level input is refused, not a RecursionError."""
    with pytest.raises(InvalidOperation, match="nests more than"):
        service.queue_operation("@o/p/op", context={"request_params": {"params": {"deep": nested(100_000)}}})
    assert operations.count_documents({}) == 0


def test_python_only_regex_syntax_is_told_apart_from_escaped_text(service):
    """``\\u`` is an escaped backslash then ``u``: MongoDB accepts it, so the store does too."""
    service.queue_operation("@o/p/op", label="a\\u")
    assert [d.label for d in service.list_operations(search={r"\\u": ["label"]})] == ["a\\u"]
