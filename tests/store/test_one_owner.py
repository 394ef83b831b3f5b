"""``DelegatedOperationService`` is the one way into the operations collection: no module outside
``store/`` reaches its repository or the collection, so every state change goes through the
service's guards (state machine, compare-and-set, pipeline bookkeeping).

Checked on the source (AST), so a new shortcut fails here before it can skip a guard.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import fiftyops_provider
from fiftyops_provider.store import COLLECTION_NAME, DelegatedOperationService

PACKAGE = Path(fiftyops_provider.__file__).parent
STORE = PACKAGE / "store"
REPO_MODULE = "fiftyops_provider.store.repo"
# What reaches the collection without the service: the repository (its module, class or the
# service's attribute) and the collection's name.
FORBIDDEN_NAMES = {"MongoDelegatedOperationRepo", "COLLECTION_NAME"}
FORBIDDEN_ATTRIBUTES = {"repo", "_repo", "MongoDelegatedOperationRepo", "COLLECTION_NAME"}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (they may name the collection)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def violations(source: str, where: str) -> list[str]:
    """Each place in ``source`` (the module ``where``) that reaches the operations collection
    other than by the service."""
    tree = ast.parse(source, where)
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom) and node.module == REPO_MODULE:
            found.append(f"{where}:{line} imports {REPO_MODULE}")
        elif isinstance(node, ast.ImportFrom):
            found += [f"{where}:{line} imports {a.name}" for a in node.names if a.name in FORBIDDEN_NAMES]
        elif isinstance(node, ast.Import):
            found += [f"{where}:{line} imports {a.name}" for a in node.names if a.name == REPO_MODULE]
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(f"{where}:{line} uses .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"{where}:{line} uses {node.id}")
        elif isinstance(node, ast.Constant) and node.value == COLLECTION_NAME and id(node) not in docstrings:
            found.append(f"{where}:{line} names the collection {COLLECTION_NAME!r}")
    return found


def test_no_module_outside_store_reaches_the_repository_or_the_collection():
    modules = [p for p in PACKAGE.rglob("*.py") if STORE not in p.parents]
    assert len(modules) > 50  # the whole package was read
    problems = [
        problem for path in sorted(modules) for problem in violations(path.read_text(), str(path.relative_to(PACKAGE)))
    ]
    assert problems == [], "use (or add) a DelegatedOperationService method instead:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "source",
    [
        "from fiftyops_provider.store.repo import MongoDelegatedOperationRepo\n",
        "from fiftyops_provider.store import COLLECTION_NAME\n",
        "import fiftyops_provider.store.repo\n",
        "def f(service):\n    return service._repo.count({})\n",
        "def f(db):\n    return db['delegated_ops'].find_one()\n",
    ],
)
def test_the_check_sees_each_way_in(source):
    assert violations(source, "probe.py")


def test_the_repository_is_not_a_public_attribute(service):
    assert not hasattr(service, "repo")
    assert not hasattr(DelegatedOperationService, "repo")
