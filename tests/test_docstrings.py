"""Every public function and method of the service, the hooks and the Management SDK says why it
exists and what each parameter is for (``:param name:``), as Airflow's providers do."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fiftyops_provider"
DOCUMENTED = ["store/service.py", "hooks/fiftyops.py", "hooks/airflow_api.py", "management.py"]


def undocumented(source: str) -> list[str]:
    """Public functions (and methods of public classes) without a docstring, or whose docstring
    leaves out one of their parameters."""
    problems = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef) and not child.name.startswith("_"):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and not child.name.startswith("_"):
                doc = ast.get_docstring(child)
                args = child.args.posonlyargs + child.args.args + child.args.kwonlyargs
                params = [a.arg for a in args if a.arg not in ("self", "cls")]
                params += [a.arg for a in (child.args.vararg, child.args.kwarg) if a is not None]
                if doc is None:
                    problems.append(f"{prefix}{child.name}: no docstring")
                else:
                    missing = [p for p in params if f":param {p}:" not in doc]
                    problems.extend(f"{prefix}{child.name}: no :param {p}:" for p in missing)

    visit(ast.parse(source), "")
    return problems


@pytest.mark.parametrize("module", DOCUMENTED)
def test_every_public_method_is_documented(module):
    assert undocumented((PACKAGE / module).read_text()) == []


def test_the_check_sees_a_missing_docstring_and_a_missing_param():
    source = (
        "def f(a):\n    pass\n\n"
        'class C:\n    def g(self, b, *, c):\n        """Why.\n\n        :param b: x\n        """\n'
    )
    assert undocumented(source) == ["f: no docstring", "C.g: no :param c:"]
