"""`make serve` on the real run's champion: what it answers, what it refuses, what it logs.

One server for the whole module (``served_log``). How a run registers its
models and moves the champion is proven on small synthetic runs in
tests/pipelines/registry/test_pipeline.py; what a logged model holds, in
tests/test_logged_models.py.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest

from fashion_mnist.schemas import PIXEL_COLUMNS
from fashion_mnist.serving.__main__ import DOWNLOADS_PREFIX
from tests.support.processes import environment, free_port, stop, wait_for
from tests.support.project import PROJECT_ROOT
from tests.support.runs import client_for

pytestmark = pytest.mark.slow


def _post(url: str, body: dict | bytes) -> tuple[int, dict, int]:
    """POST ``body`` as JSON; the status, the answer and the answer's size in bytes."""
    request = urllib.request.Request(
        url,
        data=body if isinstance(body, bytes) else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            raw = response.read()
            return response.status, json.loads(raw), len(raw)
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw), len(raw)


def _one_sentence(message: str) -> bool:
    return message.endswith(".") and not re.search(r"[.:;]\s+[A-Z]", message)


@pytest.fixture(scope="module")
def served_log(real_run, tmp_path_factory):
    """`make serve` in the real run's project (read only): the scratch model's champion.

    Yields the ``/invocations`` URL and the server's log.
    """
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    # The server's temp folder: its model download must be gone once it stops.
    temp = log.parent / "tmp"
    temp.mkdir()
    process = subprocess.Popen(
        # The project's Makefile, run in the copy (-C); -o install: use the
        # project's .venv as it is, never reinstall from the copy.
        ["make", "--no-print-directory", "-C", str(real_run.path), "-f", str(PROJECT_ROOT / "Makefile"),
         "-o", "install", "serve", f"VENV={PROJECT_ROOT / '.venv'}", f"SERVE_PORT={port}"],
        env=environment({"TMPDIR": str(temp)}),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/ping", process, log, timeout=180)
        yield f"http://127.0.0.1:{port}/invocations", log
    finally:
        stop(process)
    # Checked once the server stopped (SIGTERM): an error of the module if not.
    assert list(temp.iterdir()) == [], "make serve left its model download behind"


@pytest.mark.real_data
def test_make_serve_downloads_its_model_into_a_temp_folder_of_its_own(served_log):
    _, log = served_log

    (folder,) = (log.parent / "tmp").iterdir()

    assert folder.name.startswith(DOWNLOADS_PREFIX)
    assert (folder / "MLmodel").is_file()


@pytest.fixture(scope="module")
def served(served_log) -> str:
    return served_log[0]


@pytest.fixture(scope="module")
def test_table(real_run) -> pd.DataFrame:
    return pd.read_parquet(real_run.path / "data/03_primary/fashion_mnist_test.parquet")


@pytest.mark.real_data
def test_make_serve_answers_for_all_10000_test_images_as_the_evaluation_scored_them(
    served, test_table, real_run
):
    pixels = test_table.iloc[:, 1:].to_numpy()
    predicted = []
    for batch in np.array_split(pixels, 4):
        status, answer, _ = _post(served, {"inputs": batch.tolist()})
        assert status == 200
        predicted += [row["class_index"] for row in answer["predictions"]]

    accuracy = float((np.array(predicted) == test_table["label"].to_numpy()).mean())
    metrics = json.loads(
        (real_run.path / "data/08_reporting/scratch/metrics.json").read_text()
    )
    assert len(predicted) == 10000
    assert accuracy == pytest.approx(metrics["test_acc"], abs=1e-12)


@pytest.mark.real_data
def test_make_serve_names_the_version_it_serves_first_and_prints_no_warnings(
    served_log, real_run
):
    _, log = served_log
    version = client_for(real_run.path).get_model_version_by_alias(
        "fashion_mnist_scratch", "champion"
    )

    lines = log.read_text().splitlines()
    # The Makefile's `store` step is silent when the store is fine.
    first = lines[0]

    assert first.startswith(
        f"Serving fashion_mnist_scratch version {version.version} "
        "(models:/fashion_mnist_scratch@champion) on http://127.0.0.1:"
    )
    assert "restart `make serve`" in first
    assert lines.index(first) < next(
        i for i, line in enumerate(lines) if "Started server process" in line
    )
    assert [line for line in lines if "Warning" in line] == []


def _tables(pixels: np.ndarray) -> dict[str, dict]:
    """The same images as a tensor and as tables whose columns come in another order."""
    order = np.random.default_rng(0).permutation(len(PIXEL_COLUMNS))
    shuffled = [PIXEL_COLUMNS[i] for i in order]
    return {
        "inputs": {"inputs": pixels.tolist()},
        "28x28": {"inputs": pixels.reshape(len(pixels), 28, 28).tolist()},
        "split-shuffled": {
            "dataframe_split": {"columns": shuffled, "data": pixels[:, order].tolist()}
        },
        "records-shuffled": {
            "dataframe_records": [
                {PIXEL_COLUMNS[i]: int(row[i]) for i in order} for row in pixels
            ]
        },
    }


@pytest.mark.real_data
def test_a_table_is_read_by_column_name_in_any_order_as_a_tensor_is(served, test_table):
    pixels = test_table[PIXEL_COLUMNS].to_numpy()[:20]

    answers = {name: _post(served, body) for name, body in _tables(pixels).items()}

    assert {name: status for name, (status, _, _) in answers.items()} == dict.fromkeys(
        answers, 200
    )
    expected = answers["inputs"][1]["predictions"]
    for name, (_, answer, _) in answers.items():
        assert answer["predictions"] == expected, name
    predicted = [row["class_index"] for row in expected]
    assert np.mean(np.array(predicted) == test_table["label"].to_numpy()[:20]) >= 0.7


@pytest.mark.real_data
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (lambda x: {"inputs": x.astype(np.int64).tolist()}, "ok"),
        (lambda x: {"inputs": (x / 255.0).tolist()}, "got floats in 0..1: send the raw 0-255 pixel values"),
        (lambda x: {"inputs": (x + 0.5).tolist()}, "got floats in 0.5..255.5"),
        (lambda x: {"inputs": (x.astype(np.int64) + 300).tolist()}, "got values in 300..555"),
        (lambda x: {"inputs": x[:, :700].tolist()}, "got shape (3, 700)"),
        (lambda x: {"inputs": []}, "No images were sent"),
        (lambda x: {"dataframe_split": {"columns": [f"foo{i}" for i in range(784)], "data": x.tolist()}}, "got 784 unknown (foo0, foo1, ...), 784 missing columns"),
        (lambda x: {"dataframe_split": {"columns": PIXEL_COLUMNS[:700], "data": x[:, :700].tolist()}}, "got 84 missing columns"),
        (lambda x: {"dataframe_split": {"columns": PIXEL_COLUMNS, "data": (x / 255).tolist()}}, "got floats in 0..1"),
    ],
    ids=["int64", "floats-0-1", "non-integral", "out-of-range", "wrong-shape", "empty", "foo-columns", "missing-columns", "float-table"],
)  # fmt: skip
def test_the_served_model_accepts_raw_pixels_and_refuses_the_rest_in_one_short_sentence(
    served, test_table, body, expected
):
    pixels = test_table[PIXEL_COLUMNS].to_numpy()[:3]

    status, answer, size = _post(served, body(pixels))

    if expected == "ok":
        assert status == 200
        assert len(answer["predictions"]) == 3
    else:
        assert status == 400
        assert expected in answer["message"]
        assert _one_sentence(answer["message"]), answer["message"]
        assert size < 300
        assert "got floats" not in answer["message"] or "floats" in expected


@pytest.mark.real_data
def test_a_body_over_the_limit_is_refused_with_413_before_it_is_sent(served):
    host, port = served.split("/")[2].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        # curl asks first (Expect: 100-continue) for a large body: no byte of it
        # is sent, so the answer can only come from the headers.
        connection.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            b"\r\nContent-Length: 800000000\r\nExpect: 100-continue\r\n\r\n"
        )
        stream = connection.makefile("rb")
        status = stream.readline().decode()
        headers = {}
        while (line := stream.readline().decode().strip()) != "":
            key, _, value = line.partition(":")
            headers[key.lower()] = value.strip()
        body = stream.read(int(headers["content-length"])).decode()

    assert status.startswith("HTTP/1.1 413")
    assert "over the 64 MB limit" in body
    assert len(body) < 300


@pytest.mark.real_data
def test_a_one_row_request_of_a_hundred_million_values_gets_413_at_once(served):
    body = b'{"inputs": [[' + b"7," * 99_999_999 + b"7]]}"

    status, answer, size = _post(served, body)

    assert status == 413
    assert "send fewer images per request" in answer["message"]
    assert size < 300
