import struct

import numpy as np
import pytest

from fashion_mnist.datasets import IDXFile
from fashion_mnist.params import ClassNames
from fashion_mnist.pipelines.ingestion.nodes import decode_idx, flatten_split
from fashion_mnist.schemas import LABEL_COLUMN, PIXEL_COLUMNS
from tests.support.synthetic import CLASS_NAMES, idx_bytes, make_images


@pytest.fixture
def split():
    images, labels = make_images(n_per_class=5)
    return (
        IDXFile("images-idx3-ubyte.gz", idx_bytes(images)),
        IDXFile("labels-idx1-ubyte.gz", idx_bytes(labels)),
        images,
        labels,
    )


def test_decode_idx_returns_the_declared_shape_and_values(split):
    images_file, labels_file, images, labels = split

    decoded_images = decode_idx(images_file)
    decoded_labels = decode_idx(labels_file)

    assert decoded_images.dtype == np.uint8 and decoded_images.shape == (50, 28, 28)
    np.testing.assert_array_equal(decoded_images, images)
    np.testing.assert_array_equal(decoded_labels, labels)


def test_decode_idx_reads_big_endian_wider_types():
    values = np.array([[1, -2], [300, 4]], dtype=">i2")
    content = struct.pack(">HBBII", 0, 0x0B, 2, 2, 2) + values.tobytes()

    decoded = decode_idx(IDXFile("shorts.idx", content))

    np.testing.assert_array_equal(decoded, [[1, -2], [300, 4]])


def test_decode_idx_rejects_a_bad_magic_number_naming_the_file(split):
    images_file = split[0]
    broken = IDXFile(images_file.name, b"\x12\x34" + images_file.content[2:])

    with pytest.raises(
        ValueError, match=r"images-idx3-ubyte\.gz: bad magic number 0x12340803"
    ):
        decode_idx(broken)


def test_decode_idx_rejects_a_truncated_file_naming_the_file(split):
    images_file = split[0]
    truncated = IDXFile(images_file.name, images_file.content[:-100])

    with pytest.raises(
        ValueError, match=r"images-idx3-ubyte\.gz: truncated.*\(50, 28, 28\)"
    ):
        decode_idx(truncated)


def test_decode_idx_rejects_a_file_cut_inside_its_header():
    with pytest.raises(ValueError, match=r"tiny\.idx: truncated inside its header"):
        decode_idx(IDXFile("tiny.idx", b"\x00\x00\x08\x03\x00\x00"))


def test_decode_idx_rejects_trailing_bytes(split):
    labels_file = split[1]

    with pytest.raises(ValueError, match="longer than declared"):
        decode_idx(IDXFile(labels_file.name, labels_file.content + b"\x00"))


def test_flatten_split_makes_one_row_per_image_with_label_and_784_uint8_pixels(split):
    images_file, labels_file, images, labels = split

    table = flatten_split(images_file, labels_file, ClassNames(CLASS_NAMES))

    assert list(table.columns) == [LABEL_COLUMN, *PIXEL_COLUMNS]
    assert len(table) == 50
    assert table[LABEL_COLUMN].dtype == np.int64
    assert (table[PIXEL_COLUMNS].dtypes == np.uint8).all()
    np.testing.assert_array_equal(table[LABEL_COLUMN], labels)
    np.testing.assert_array_equal(table.loc[7, PIXEL_COLUMNS], images[7].ravel())


def test_flatten_split_rejects_image_and_label_count_mismatch_naming_both_files(split):
    images_file, _, _, labels = split
    short_labels = IDXFile("labels-idx1-ubyte.gz", idx_bytes(labels[:-1]))

    with pytest.raises(
        ValueError,
        match=r"images-idx3-ubyte\.gz holds 50 images but labels-idx1-ubyte\.gz holds 49",
    ):
        flatten_split(images_file, short_labels, ClassNames(CLASS_NAMES))


def test_flatten_split_rejects_labels_beyond_the_class_names(split):
    images_file, labels_file, _, _ = split

    with pytest.raises(ValueError, match=r"label 9 is out of range for the 5 classes"):
        flatten_split(images_file, labels_file, ClassNames(CLASS_NAMES[:5]))


def test_flatten_split_rejects_swapped_files(split):
    images_file, labels_file, _, _ = split

    with pytest.raises(ValueError, match=r"labels-idx1-ubyte\.gz: expected images"):
        flatten_split(labels_file, images_file, ClassNames(CLASS_NAMES))


def test_flatten_split_rejects_negative_labels(split):
    images_file = split[0]
    labels = np.array([-1] * 50, dtype=np.int8)
    content = struct.pack(">HBBI", 0, 0x09, 1, 50) + labels.tobytes()

    with pytest.raises(ValueError, match=r"neg\.idx: label -1 is out of range"):
        flatten_split(images_file, IDXFile("neg.idx", content), ClassNames(CLASS_NAMES))
