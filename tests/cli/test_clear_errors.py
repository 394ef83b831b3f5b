"""Inputs Python takes and MongoDB, the Run page or the user would not: each is a one-line error
with exit code 1 (or the right behaviour), and nothing is written. Against a real mongod."""

from __future__ import annotations

import json

import pytest

from fiftyops_provider.cli.main import main
from fiftyops_provider.datasets.catalog import create_dataset
from tests.plugins.conftest import write_plugin
from tests.plugins.test_delegate import _snapshot

BOUNDED = """
from fiftyops_provider.plugins import Inputs, Operator, OperatorConfig


class Bounded(Operator):
    @property
    def config(self):
        return OperatorConfig(name="bounded", allow_delegated_execution=True)

    def resolve_input(self, ctx):
        return Inputs().float("n", minimum=0, maximum=10).obj("o").list("items")

    def execute(self, ctx):
        return {}


def register(p):
    p.register(Bounded)
"""


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, says: str) -> bool:
    return code == 1 and len(err.strip().splitlines()) == 1 and says in err and "Traceback" not in err


@pytest.fixture
def bounded(db, registry, tmp_path):
    """@test/bounded/bounded: n in 0..10, an object input o and a list input items; open to all."""
    registry.install(
        write_plugin(tmp_path / "bounded", name="@test/bounded", operators=("bounded",), entry_code=BOUNDED)
    )
    registry.set_operator("@test/bounded", "bounded", minimum_role="GUEST", minimum_dataset_permission="NO_ACCESS")
    return db


def nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "param,says",
    [
        ("n=NaN", "expected number, got str"),
        ("n=Infinity", "expected number, got str"),
        (f"items={nested_json(250)}", "nests more than"),
        (f"items={nested_json(100_000)}", "nests too deeply"),
        ('o={"$where": "sleep(1000)"}', "cannot start with '$'"),
        ('o={"a": {"b.c": 1}}', "contain '.'"),
    ],
)
def test_queue_refuses_unstorable_params_with_one_line(capsys, bounded, param, says):
    before = _snapshot(bounded)
    code, _, err = run(capsys, "queue", "@test/bounded/bounded", "--param", param)
    assert one_line_error(code, err, says), err
    assert _snapshot(bounded) == before


def test_queue_accepts_a_number_within_bounds(capsys, bounded):
    code, out, _ = run(capsys, "--json", "queue", "@test/bounded/bounded", "--param", "n=2.5")
    assert code == 0 and json.loads(out)["context"]["request_params"]["params"]["n"] == 2.5


def test_list_skip_beyond_64_bits_is_a_one_line_error(capsys, db, admin):
    code, _, err = run(capsys, "delegated", "list", "--skip", "99999999999999999999")
    assert one_line_error(code, err, "skip must be at most")


def test_non_ascii_dataset_names_get_slugs_of_their_own(capsys, db, admin):
    for name in ("日本", "中国", "!!!", "???"):
        assert run(capsys, "datasets", "create", name)[0] == 0
    slugs = {doc["name"]: doc["slug"] for doc in db["datasets"].find()}
    assert slugs["日本"] == "日本" and slugs["中国"] == "中国"
    assert len(set(slugs.values())) == 4
    code, _, err = run(capsys, "datasets", "create", "日本")
    assert one_line_error(code, err, "already exists")


def test_a_declared_operator_never_registered_refuses_the_install(capsys, db, admin, tmp_path):
    plugin = write_plugin(tmp_path / "ghost", operators=("double",))
    (plugin / "fiftyone.yml").write_text('name: "@test/demo"\noperators: [double, ghost]\n')
    before = _snapshot(db)
    code, _, err = run(capsys, "plugins", "install", str(plugin))
    assert one_line_error(code, err, "never registers them") and "ghost" in err
    assert _snapshot(db) == before


def test_dataset_slug_of_an_existing_ascii_name_is_unchanged(db):
    create_dataset(db, "Quick Start!")
    assert db["datasets"].find_one({"name": "Quick Start!"})["slug"] == "quick-start"


def test_nan_is_refused_against_a_bounded_number_input(bounded):
    """NaN compares false with both bounds, so a bound alone let it through."""
    from fiftyops_provider.plugins import InvalidParams
    from fiftyops_provider.plugins.delegate import delegate

    with pytest.raises(InvalidParams, match="must be a finite number"):
        delegate("@test/bounded/bounded", params={"n": float("nan")}, user="root")
