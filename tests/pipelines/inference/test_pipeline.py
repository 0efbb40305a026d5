import csv
import io
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from kedro.io import AbstractDataset, DataCatalog
from kedro.runner import SequentialRunner
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import ParquetDataset
from matplotlib.image import imread
from PIL import Image

from fashion_mnist.datasets import ImageFolderDataset
from fashion_mnist.params import ClassNames, InferenceParams, TrainingParams
from fashion_mnist.pipelines import inference
from fashion_mnist.pipelines.evaluation.nodes import predict_split
from fashion_mnist.pipelines.training.nodes import train_scratch
from fashion_mnist.schemas import IMAGE_SHAPE, LABEL_COLUMN, PIXEL_COLUMNS
from tests.support.synthetic import CLASS_NAMES, make_table, training_params

CONF = Path(__file__).resolve().parents[3] / "conf" / "base"
PROBAS = [f"proba_{k}" for k in range(10)]


def _conf(name: str, key: str):
    return yaml.safe_load((CONF / name).read_text())[key]


def _write_pngs(table: pd.DataFrame, folder: Path) -> list[str]:
    """Each row as a 28x28 greyscale PNG named after its row; returns the names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, row in enumerate(table[PIXEL_COLUMNS].to_numpy()):
        names.append(f"{i:04d}.png")
        Image.fromarray(row.reshape(IMAGE_SHAPE)).save(folder / names[-1])
    return names


def _run(images: Path, model, outputs: Path) -> tuple[pd.DataFrame, Path]:
    """Run the inference pipeline on a folder; the predictions and the grid's path."""
    catalog = DataCatalog(
        datasets={
            "inference_images": ImageFolderDataset(path=str(images)),
            "inference_pixels": ParquetDataset(filepath=str(outputs / "pixels.pq")),
            "inference_predictions": ParquetDataset(
                filepath=str(outputs / "predictions.parquet")
            ),
            "inference_grid": MatplotlibDataset(filepath=str(outputs / "grid.png")),
        }
    )
    catalog["inference_model"] = model
    catalog["params:class_names"] = ClassNames(CLASS_NAMES)
    catalog["params:inference"] = InferenceParams.model_validate(
        _conf("parameters_inference.yml", "inference")
    )
    SequentialRunner().run(inference.create_pipeline(), catalog)
    return pd.read_parquet(outputs / "predictions.parquet"), outputs / "grid.png"


# Lit pixels push class 3 (Dress); an empty picture gets the bias's class 0 (23 %).
DRESS_MODEL = {
    "weight": torch.zeros(10, 784).index_fill_(0, torch.tensor([3]), 0.02),
    "bias": torch.zeros(10).index_fill_(0, torch.tensor([0]), 1.0),
}
FORMULAS = ["=1+2.png", '=HYPERLINK("evil.example","click").png', "@cmd.png"]


def _predictions_csv(path: Path) -> AbstractDataset:
    """The catalog's own inference_predictions entry, writing to ``path``."""
    entry = yaml.safe_load((CONF / "catalog.yml").read_text())["inference_predictions"]
    entry["dataset"]["filepath"] = str(path)
    return AbstractDataset.from_config("inference_predictions", entry)


def test_formula_names_are_quoted_in_the_csv_and_empty_pictures_flagged(
    tmp_path, caplog
):
    folder = tmp_path / "images"
    folder.mkdir()
    shirt = np.zeros((60, 40), dtype=np.uint8)
    shirt[5:55, 8:32] = 220
    for name in [*FORMULAS, "shirt.png"]:
        Image.fromarray(shirt).save(folder / name)
    Image.new("RGB", (2000, 2000)).save(folder / "black.png")
    Image.new("L", (1, 1), 128).save(folder / "grey_dot.png")
    Image.new("L", (5000, 3), 200).save(folder / "line.png")
    written = tmp_path / "out" / "predictions.csv"
    catalog = DataCatalog(
        datasets={
            "inference_images": ImageFolderDataset(path=str(folder)),
            "inference_predictions": _predictions_csv(written),
            "inference_grid": MatplotlibDataset(filepath=str(tmp_path / "grid.png")),
        }
    )
    catalog["inference_model"] = DRESS_MODEL
    catalog["params:class_names"] = ClassNames(CLASS_NAMES)
    catalog["params:inference"] = InferenceParams.model_validate(
        _conf("parameters_inference.yml", "inference")
    )

    with caplog.at_level(logging.INFO, logger="fashion_mnist"):
        SequentialRunner().run(inference.create_pipeline(), catalog)

    lines = written.read_text().splitlines()
    assert lines[1].startswith("'=1+2.png,3,Dress,")
    assert lines[2].startswith('"\'=HYPERLINK(""evil.example"",""click"").png",3,')
    # What a spreadsheet reads: each name as text, after the quote that makes it so.
    cells = [row[0] for row in csv.reader(io.StringIO(written.read_text()))]
    assert cells[1:4] == [f"'{name}" for name in FORMULAS]
    table = pd.read_csv(written, keep_default_na=False)
    assert table.columns[:5].tolist() == [
        "file",
        "predicted",
        "predicted_class",
        "probability",
        "warning",
    ]
    flagged = table.loc[table["warning"] != "", "file"].tolist()
    assert flagged == ["black.png", "grey_dot.png", "line.png"]
    assert set(table.loc[table["warning"] == "", "predicted_class"]) == {"Dress"}
    loaded = _predictions_csv(written).load()
    assert loaded["file"].tolist()[:3] == FORMULAS  # the real names, read back
    messages = [r.getMessage() for r in caplog.records]
    assert f"Found 7 image(s) in {folder}" in messages
    assert (
        "3 of 7 image(s) lost their content in conversion to 28 x 28 and are flagged "
        "in the warning column of the predictions: black.png, grey_dot.png, line.png"
    ) in messages
    assert any(
        m.startswith("Predicted 7 image(s): 4 Dress, 3 T-shirt/top;") for m in messages
    )


def test_a_folder_of_pngs_gets_the_evaluations_predictions_and_a_grid(tmp_path):
    table = make_table(n_per_class=2, seed=3)
    pixels = table[PIXEL_COLUMNS].to_numpy()
    table[PIXEL_COLUMNS] = np.where(pixels < 60, 0, pixels).astype(np.uint8)
    model, _ = train_scratch(
        make_table(n_per_class=20, seed=1),
        make_table(5, seed=2),
        TrainingParams.model_validate(training_params()),
    )
    names = _write_pngs(table, tmp_path / "images")

    predictions, grid = _run(tmp_path / "images", model, tmp_path / "out")

    expected = predict_split(model, table)
    assert predictions["file"].tolist() == names
    np.testing.assert_array_equal(predictions["predicted"], expected["predicted"])
    np.testing.assert_array_equal(predictions[PROBAS], expected[PROBAS])
    assert (predictions["predicted"] == table[LABEL_COLUMN]).mean() > 0.9
    converted = pd.read_parquet(tmp_path / "out" / "pixels.pq")
    np.testing.assert_array_equal(converted[PIXEL_COLUMNS], table[PIXEL_COLUMNS])
    # parameters_inference.yml: 8 columns, so 20 images make 3 rows of 1.6 x 2 inches.
    assert imread(grid).shape == (600, 1280, 4)


def test_photos_of_any_size_and_colour_are_converted_and_predicted(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    shirt = np.full((300, 200, 3), 250, dtype=np.uint8)
    shirt[40:260, 50:150] = [20, 40, 120]
    Image.fromarray(shirt).save(folder / "navy_shirt.jpg", quality=90)
    Image.fromarray(shirt).convert("L").resize((50, 75)).save(folder / "grey.png")
    model, _ = train_scratch(
        make_table(20, seed=1),
        make_table(5, seed=2),
        TrainingParams.model_validate(training_params()),
    )

    predictions, grid = _run(folder, model, tmp_path / "out")

    assert predictions["file"].tolist() == ["grey.png", "navy_shirt.jpg"]
    converted = pd.read_parquet(tmp_path / "out" / "pixels.pq")
    images = converted[PIXEL_COLUMNS].to_numpy().reshape(-1, *IMAGE_SHAPE)
    assert (images[:, 14, 14] > 150).all()  # inverted: light garment
    assert (images[:, :, 0] == 0).all()  # on black, centred
    assert grid.exists()


# ---------------------------------------------------------------- real data
REAL_IMAGES = 200
RESIZED_IMAGES = 50
MIN_AGREEMENT = 0.8


@pytest.fixture(scope="module")
def real_tables(real_project):
    primary = real_project.path / "data" / "03_primary"
    return (
        pd.read_parquet(primary / "fashion_mnist_train.parquet"),
        pd.read_parquet(primary / "fashion_mnist_test.parquet"),
    )


@pytest.fixture(scope="module")
def real_model(real_tables):
    """The scratch model, trained with conf/base/parameters_training.yml (seconds)."""
    train, test = real_tables
    params = {**_conf("parameters_training.yml", "training"), "device": "cpu"}
    model, _ = train_scratch(
        train, test, TrainingParams.model_validate(params)
    )  # on the CPU: the same weights anywhere
    return model


def _canvas(image: np.ndarray, size=(100, 80), on_white=False) -> Image.Image:
    """A 28x28 image enlarged to fill the height of an RGB canvas, centred on it."""
    side = min(size)
    grey = 255 - image if on_white else image
    picture = Image.fromarray(grey).resize((side, side), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", size, (255, 255, 255) if on_white else (0, 0, 0))
    canvas.paste(picture.convert("RGB"), ((size[0] - side) // 2, (size[1] - side) // 2))
    return canvas


@pytest.mark.real_data
def test_real_test_images_saved_as_pngs_get_exactly_the_evaluations_predictions(
    real_tables, real_model, tmp_path
):
    test = real_tables[1].head(REAL_IMAGES)
    _write_pngs(test, tmp_path / "images")

    predictions, _ = _run(tmp_path / "images", real_model, tmp_path / "out")

    converted = pd.read_parquet(tmp_path / "out" / "pixels.pq")
    np.testing.assert_array_equal(converted[PIXEL_COLUMNS], test[PIXEL_COLUMNS])
    expected = predict_split(real_model, test)
    np.testing.assert_array_equal(predictions["predicted"], expected["predicted"])
    np.testing.assert_array_equal(predictions[PROBAS], expected[PROBAS])


# A light garment on black saved as PNG; the same negated on white (a product photo) as JPEG.
CANVASES = {"black": (False, "png"), "white": (True, "jpg")}


@pytest.mark.real_data
@pytest.mark.parametrize("canvas", CANVASES)
def test_real_images_enlarged_onto_a_100_by_80_rgb_canvas_are_mostly_classified_alike(
    real_tables, real_model, tmp_path, canvas, record_property
):
    on_white, extension = CANVASES[canvas]
    test = real_tables[1].head(RESIZED_IMAGES)
    folder = tmp_path / "images"
    folder.mkdir()
    for i, row in enumerate(test[PIXEL_COLUMNS].to_numpy()):
        picture = _canvas(row.reshape(IMAGE_SHAPE), on_white=on_white)
        picture.save(folder / f"{i:04d}.{extension}")

    predictions, _ = _run(folder, real_model, tmp_path / "out")

    expected = predict_split(real_model, test)
    agreement = (predictions["predicted"] == expected["predicted"]).mean()
    # Measured: 0.82 (41 of 50) on both canvases; 0.91 on the first 1,000 images.
    record_property("agreement", float(agreement))
    assert agreement >= MIN_AGREEMENT, f"{agreement:.2f} of the predictions agree"
