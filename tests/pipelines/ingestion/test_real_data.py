"""The ingestion pipeline on the real Fashion-MNIST files (run in CI)."""

import gzip
import shutil

import numpy as np
import pandas as pd
import pytest
import torchvision

from fashion_mnist.schemas import LABEL_COLUMN, PIXEL_COLUMNS

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def tables(real_project):
    primary = real_project.path / "data" / "03_primary"
    return {
        split: pd.read_parquet(primary / f"fashion_mnist_{split}.parquet")
        for split in ["train", "test"]
    }


def test_the_real_tables_hold_60000_and_10000_images(tables):
    assert tables["train"].shape == (60_000, 785)
    assert tables["test"].shape == (10_000, 785)


def test_every_class_has_6000_train_and_1000_test_images(tables):
    assert (tables["train"][LABEL_COLUMN].value_counts() == 6_000).all()
    assert (tables["test"][LABEL_COLUMN].value_counts() == 1_000).all()
    assert sorted(tables["test"][LABEL_COLUMN].unique()) == list(range(10))


def test_the_raw_cache_holds_the_four_verified_files(real_project):
    raw = real_project.path / "data" / "01_raw"
    assert sorted(p.name for p in raw.glob("*.gz")) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]


@pytest.mark.parametrize("split", ["train", "test"])
def test_the_tables_agree_pixel_for_pixel_with_torchvision(
    tables, real_project, tmp_path, split
):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in (real_project.path / "data" / "01_raw").glob("*.gz"):
        with gzip.open(gz) as src, (raw / gz.stem).open("wb") as dst:
            shutil.copyfileobj(src, dst)
    reference = torchvision.datasets.FashionMNIST(
        tmp_path, train=split == "train", download=False
    )
    table = tables[split]
    indices = np.random.default_rng(0).choice(len(table), size=200, replace=False)

    for i in indices:
        np.testing.assert_array_equal(
            table.loc[i, PIXEL_COLUMNS].to_numpy(np.uint8),
            reference.data[i].numpy().ravel(),
        )
        assert table.loc[i, LABEL_COLUMN] == int(reference.targets[i])
