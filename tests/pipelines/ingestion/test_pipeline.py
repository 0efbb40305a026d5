import numpy as np
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from fashion_mnist.datasets import VerifiedIDXDataset
from fashion_mnist.params import ClassNames
from fashion_mnist.pipelines.ingestion import create_pipeline
from fashion_mnist.schemas import LABEL_COLUMN, PIXEL_COLUMNS
from tests.support.synthetic import CLASS_NAMES, idx_bytes, make_images, write_gz


def test_ingestion_turns_four_idx_files_into_train_and_test_tables(tmp_path):
    source = tmp_path / "source"
    datasets = {}
    arrays = {}
    for split, n_per_class in [("train", 12), ("test", 4)]:
        images, labels = make_images(n_per_class, seed=len(split))
        arrays[split] = images, labels
        for kind, array in [("images", images), ("labels", labels)]:
            name = f"{split}-{kind}.gz"
            md5 = write_gz(source / name, idx_bytes(array))
            datasets[f"{split}_{kind}_idx"] = VerifiedIDXDataset(
                file=name,
                md5=md5,
                path=str(tmp_path / "cache"),
                env_var=None,
                local_dirs=[str(source)],
            )
    catalog = DataCatalog(datasets=datasets)
    catalog["params:class_names"] = ClassNames(CLASS_NAMES)

    outputs = SequentialRunner().run(create_pipeline(), catalog)

    for split, rows in [("train", 120), ("test", 40)]:
        table = outputs[f"fashion_mnist_{split}"].load()
        images, labels = arrays[split]
        assert table.shape == (rows, 785)
        np.testing.assert_array_equal(table[LABEL_COLUMN], labels)
        np.testing.assert_array_equal(
            table[PIXEL_COLUMNS].to_numpy(), images.reshape(rows, -1)
        )
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        f"{s}-{k}.gz" for s in ["train", "test"] for k in ["images", "labels"]
    )
