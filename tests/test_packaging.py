"""The wheel `kedro package` builds asks for what a run needs; viewers are extras."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import HeaderParser

import pytest

from tests.support.project import PROJECT_ROOT

# Tools a user opens beside a run: installed with an extra, never by a plain install.
VIEWERS = {"kedro-viz", "ipython", "ipykernel", "jupyterlab", "nbclient", "nbformat"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=~!;]", requirement, maxsplit=1)[0].lower()


@pytest.fixture(scope="module")
def requires_dist(tmp_path_factory) -> list[str]:
    """Requires-Dist of a wheel built from a clean copy, as `kedro package` builds it."""
    source = tmp_path_factory.mktemp("wheel") / "project"
    source.mkdir()
    for name in ["pyproject.toml", "README.md"]:
        shutil.copy2(PROJECT_ROOT / name, source / name)
    shutil.copytree(
        PROJECT_ROOT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    # `kedro package` is `python -m build --wheel`; without isolation it needs no index.
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation"]
        + ["--outdir", str(source / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (source / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith("/METADATA")]
        headers = HeaderParser().parsestr(archive.read(metadata).decode())
    return headers.get_all("Requires-Dist")


def test_the_wheel_asks_for_viewers_only_under_an_extra(requires_dist):
    plain = {_name(r) for r in requires_dist if "extra ==" not in r}
    extras = {
        _name(r): re.search(r'extra == "(\w+)"', r).group(1)
        for r in requires_dist
        if "extra ==" in r
    }

    assert not plain & VIEWERS
    assert {"kedro", "kedro-mlflow", "mlflow", "torch", "optuna"} <= plain
    assert extras["kedro-viz"] == "viz"
    assert extras["ipython"] == extras["jupyterlab"] == "notebook"


def test_the_dev_extra_installs_both_viewer_extras(requires_dist):
    dev = [r for r in requires_dist if r.endswith('extra == "dev"')]

    (own,) = [r for r in dev if _name(r) == "fashion_mnist"]
    assert re.search(r"\[notebook,viz\]", own)
