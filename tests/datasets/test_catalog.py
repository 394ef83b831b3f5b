"""The dataset model operators work on."""

from __future__ import annotations

import pytest

from fiftyops_provider.datasets.catalog import DatasetNotFound, create_dataset, list_datasets, load_dataset
from fiftyops_provider.plugins import PluginError


def test_samples_round_trip_and_bulk_field_updates(db):
    ds = create_dataset(db, "animals")
    ids = ds.add_samples([{"filepath": "/a/cat.jpg"}, {"filepath": "/a/dog.jpg"}])
    assert ds.count() == 2 and len(ds) == 2
    ds.set_values("label", {ids[0]: "cat", ids[1]: "dog"})
    ds.set_field(ids[0], "score", 0.9)
    samples = list(ds)
    assert [(s["label"], s.get("score")) for s in samples] == [("cat", 0.9), ("dog", None)]
    with pytest.raises(PluginError, match="Cannot set sample field"):
        ds.set_values("$where", {ids[0]: 1})


def test_load_by_id_survives_rename_and_names_are_unique(db):
    ds = create_dataset(db, "before")
    ds.rename("after")
    assert load_dataset(db, ds.id, "before").name == "after"
    assert load_dataset(db, None, "after").id == ds.id
    with pytest.raises(PluginError, match="already exists"):
        create_dataset(db, "after")
    with pytest.raises(DatasetNotFound):
        load_dataset(db, None, "before")
    assert [d.name for d in list_datasets(db)] == ["after"]


def test_datasets_use_fiftyone_field_names(db):
    ds = create_dataset(db, "shape")
    raw = db.datasets.find_one({"name": "shape"})
    assert raw["sample_collection_name"] == f"samples.{ds.id}" and raw["created_at"] is not None
    ds.delete()
    assert db.datasets.count_documents({}) == 0


def test_documents_carry_slug_and_persistent_and_slugs_are_unique(db):
    ds = create_dataset(db, "My Animals")
    raw = db.datasets.find_one({"_id": ds._doc["_id"]})
    assert (raw["slug"], raw["persistent"]) == ("my-animals", True)
    with pytest.raises(PluginError, match="same slug 'my-animals'"):
        create_dataset(db, "my  animals")
    other = create_dataset(db, "birds")
    with pytest.raises(PluginError, match="same slug"):
        other.rename("MY-ANIMALS")
    ds.rename("My animals!")  # its own slug is no clash
    assert db.datasets.find_one({"_id": ds._doc["_id"]})["slug"] == "my-animals"


def test_loading_never_writes(db):
    with pytest.raises(DatasetNotFound):
        load_dataset(db, None, "nothing")
    assert list_datasets(db) == []
    assert "datasets" not in db.list_collection_names()
