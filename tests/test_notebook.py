"""The exploration notebook is committed clean and runs top to bottom on a real run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from mlflow import MlflowClient
from nbclient import NotebookClient

from tests.support.processes import environment
from tests.support.project import PROJECT_ROOT

NOTEBOOK = PROJECT_ROOT / "notebooks" / "explore_fashion_mnist.ipynb"
# The executed copy, outputs and all, for a reader of a failed CI run.
ARTIFACT = PROJECT_ROOT / "test-artifacts" / NOTEBOOK.name
KERNEL_NAME = "fashion-mnist-test"
CELL_TIMEOUT_S = 600
# Both models' prediction grid, learning curves and confusion matrix, the overlay
# of both learning curves, the sample grid, the class balance, the mistakes.
FIGURES = 2 * 3 + 1 + 3
PROBE = "import sys\nprint(sys.prefix)\nprint(context.project_path)"


def _kernel_manager(kernels: Path) -> KernelManager:
    """A kernel on this interpreter, from a kernelspec no other installation can shadow."""
    spec = kernels / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher"]
                + ["-f", "{connection_file}"],
                "display_name": "fashion_mnist (test)",
                "language": "python",
            }
        )
    )
    specs = KernelSpecManager(kernel_dirs=[str(kernels)])
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def _outputs(notebook) -> list[dict]:
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]


def _text(output) -> str:
    """What an output shows as text: a stream, or a display's plain text."""
    text = output.get("text") or output.get("data", {}).get("text/plain", "")
    return "".join(text) if isinstance(text, list) else text


def test_the_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert [cell.outputs for cell in code] == [[] for _ in code]
    assert [cell.execution_count for cell in code] == [None for _ in code]
    nbformat.validate(notebook)


@pytest.mark.real_data
@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom_on_a_real_run(real_run, tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE))
    # The project copy's own sqlite store (environment() leaves out the test
    # process's); conftest's headless Agg would hide the figures: the notebook
    # asks for inline.
    kernel_tmp = tmp_path / "kernel-tmp"
    kernel_tmp.mkdir()
    env = environment(
        {
            "FASHION_MNIST_PROJECT": str(real_run.path),
            "MPLBACKEND": None,
            "TMPDIR": str(kernel_tmp),
        }
    )
    kernel = _kernel_manager(tmp_path / "kernels")
    client = NotebookClient(
        notebook,
        km=kernel,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(tmp_path)}},
    )

    try:
        # A client given its kernel manager leaves the kernel running unless told.
        client.execute(cleanup_kc=True, env=env)
    finally:
        if kernel.has_kernel:
            kernel.shutdown_kernel(now=True)
        ARTIFACT.parent.mkdir(exist_ok=True)
        nbformat.write(notebook, ARTIFACT)

    outputs = _outputs(notebook)
    assert not [o for o in outputs if o.output_type == "error"]
    # The champions' files it downloaded went with the kernel.
    assert not list(kernel_tmp.glob("champions-*"))
    texts = [_text(o) for o in outputs]
    # Kedro starts once; nothing warns (tqdm, MLflow, Kedro), nothing on stderr.
    assert sum("Kedro project" in text for text in texts) == 1
    assert not [t for t in texts if "WARNING" in t or "Warning:" in t]
    assert not [o for o in outputs if o.get("name") == "stderr"]
    # The evidence shown is the champions', named by version and run.
    client = MlflowClient(f"sqlite:///{real_run.path / 'mlflow.db'}")
    shown = "\n".join(texts)
    for model in ("scratch", "concise"):
        champion = client.get_model_version_by_alias(
            f"fashion_mnist_{model}", "champion"
        )
        assert champion.run_id in shown
    scratch = client.get_model_version_by_alias("fashion_mnist_scratch", "champion")
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert f"by fashion_mnist_scratch version {scratch.version}</caption>" in html
    probe = "".join(
        o.text for o in notebook.cells[-1].outputs if o.get("name") == "stdout"
    )
    assert probe.splitlines() == [sys.prefix, str(real_run.path)]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) == FIGURES
