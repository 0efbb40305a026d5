"""The tuning tests' Optuna storage and synthetic splits."""

import pytest

from fashion_mnist.pipelines.tuning.nodes import split_validation_set
from tests.pipelines.tuning.small_study import small_tuning
from tests.support.optuna_storage import sqlite_storage
from tests.support.synthetic import make_table


@pytest.fixture
def storage(tmp_path):
    return sqlite_storage(tmp_path / "optuna.db")


@pytest.fixture
def splits():
    train = make_table(n_per_class=40, seed=1)
    return split_validation_set(train, small_tuning())
