"""The inference pipeline on real test images, with the real run's champion (run in CI)."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.support.runs import client_for, logged_models

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


def test_the_inference_pipeline_classifies_png_files_as_the_evaluation_did(
    real_run, tmp_path
):
    test = pd.read_parquet(real_run.path / "data/03_primary/fashion_mnist_test.parquet")
    folder = tmp_path / "my images"
    folder.mkdir()
    for i in range(100):
        pixels = test.iloc[i, 1:].to_numpy(dtype=np.uint8).reshape(28, 28)
        Image.fromarray(pixels).save(folder / f"test_{i:03d}.png")
    garment = 255 - test.iloc[0, 1:].to_numpy(dtype=np.uint8).reshape(28, 28)
    Image.fromarray(garment).resize((150, 150)).convert("RGB").save(
        folder / "zz_photo_on_white.jpg"
    )
    client = client_for(real_run.path)
    champion = client.get_model_version_by_alias("fashion_mnist_scratch", "champion")
    # The champion's files where the real run logged them (read only); this run
    # tracks into a copy's own store, so the shared real run stays as it was.
    trained = client.get_run(champion.run_id)
    model_uri = logged_models(client, trained)["scratch_model"].artifact_location
    project = real_run.copy(tmp_path / "project")

    project.run(
        {"inference": {"images_dir": str(folder), "model_uri": model_uri}},
        pipeline_names=["inference"],
    )

    predictions = pd.read_csv(
        project.path / "data/07_model_output/inference/predictions.csv"
    ).set_index("file")
    evaluated = pd.read_parquet(
        real_run.path / "data/07_model_output/scratch/test_predictions.parquet"
    )
    files = [f"test_{i:03d}.png" for i in range(100)]
    assert (
        predictions.loc[files, "predicted"].tolist()
        == evaluated["predicted"][:100].tolist()
    )
    assert predictions.loc["zz_photo_on_white.jpg", "predicted_class"] == "Ankle boot"
    assert (project.path / "data/08_reporting/inference/predictions.png").is_file()
