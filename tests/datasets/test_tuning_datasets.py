"""The Optuna storage dataset: credentials kept out of sight, clear errors."""

import pytest
from kedro.io import DatasetError

from fashion_mnist.datasets.tuning_datasets import OptunaStorageDataset, mask_url
from tests.support.processes import refused_port


def test_a_storage_url_is_shown_without_its_password():
    url = "postgresql://tuner:s3cret-pw@db.example:5432/optuna"

    dataset = OptunaStorageDataset(credentials={"url": url})

    assert mask_url(url) == "postgresql://tuner:***@db.example:5432/optuna"
    assert "s3cret-pw" not in repr(dataset)
    assert "s3cret-pw" not in str(dataset._describe())


def test_an_unreachable_storage_is_a_clear_error_without_the_password():
    with refused_port() as port, pytest.raises(DatasetError) as error:
        url = f"postgresql://tuner:s3cret-pw@127.0.0.1:{port}/optuna"
        OptunaStorageDataset(credentials={"url": url}).load()

    message = str(error.value)
    masked = f"postgresql://tuner:***@127.0.0.1:{port}/optuna"
    assert f"Cannot open the Optuna storage {masked}" in message
    assert "s3cret-pw" not in message


def test_a_storage_without_a_url_names_the_credentials_to_set():
    with pytest.raises(DatasetError, match="credentials optuna_storage.url"):
        OptunaStorageDataset(credentials={})


def test_a_storage_opens_with_its_heartbeat_and_without_a_warning(tmp_path, recwarn):
    storage = OptunaStorageDataset(
        credentials={"url": f"sqlite:///{tmp_path / 'optuna.db'}"},
        heartbeat_interval=7,
    ).load()

    assert storage.get_heartbeat_interval() == 7
    assert storage.get_heartbeat_stale_trial_callback() is not None
    assert not [w for w in recwarn if "optuna" in str(w.filename)]
