"""`kedro run --pipelines inference` on the real run's champion (run in CI)."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

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

    real_run.kedro(
        "run", "--pipelines", "inference", "--params", f"inference.images_dir={folder}"
    )

    predictions = pd.read_csv(
        real_run.path / "data/07_model_output/inference/predictions.csv"
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
    assert (real_run.path / "data/08_reporting/inference/predictions.png").is_file()
