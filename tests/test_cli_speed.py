"""Commands that run no node import neither torch nor matplotlib, Optuna or Pillow.

Every ``kedro`` command imports the project's pipeline modules (to register the
pipelines) and every plugin's command group; kedro-mlflow's imports MLflow
(and with it numpy and pandas), which the project leaves as it is. What they
import is read from ``python -X importtime``'s log, never timed: speed is the
benchmarks' business.
"""

from __future__ import annotations

import subprocess
import sys

from tests.support.processes import environment
from tests.support.project import PROJECT_ROOT

# What no command that runs no node should pay for.
HEAVY = ("torch", "matplotlib", "optuna", "PIL", "safetensors")
# The pipeline modules themselves import no tracking library either.
HEAVY_FOR_PIPELINES = (*HEAVY, "mlflow")
PIPELINES = [
    "__default__",
    "evaluation",
    "inference",
    "ingestion",
    "registry",
    "reporting",
    "retrain",
    "training",
    "tuning",
]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _imported(importtime_log: str) -> set[str]:
    """The modules named in a ``-X importtime`` log."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime_log.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


def _heavy(modules: set[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(
        m for m in modules if any(m == h or m.startswith(f"{h}.") for h in heavy)
    )


def _importtime_kedro(*args: str) -> tuple[str, list[str]]:
    """``kedro ARGS``'s output, and the heavy modules it imported."""
    result = _run("-X", "importtime", "-m", "kedro", *args)
    assert result.returncode == 0, result.stderr
    modules = _imported(result.stderr)
    assert "kedro" in modules, "the import log is empty"
    return result.stdout, _heavy(modules)


def test_kedro_registry_list_names_every_pipeline_without_heavy_imports():
    # `kedro --version` imports a subset of what this command imports.
    output, heavy = _importtime_kedro("registry", "list")
    listed = [line[2:] for line in output.splitlines() if line.startswith("- ")]
    assert listed == PIPELINES
    assert heavy == []


def test_every_pipeline_module_imports_without_heavy_libraries():
    script = """
import importlib, importlib.util, pkgutil, sys
import fashion_mnist.pipelines as package
names = [
    f"{package.__name__}.{info.name}.{module}"
    for info in pkgutil.iter_modules(package.__path__)
    for module in ("nodes", "pipeline")
    if importlib.util.find_spec(f"{package.__name__}.{info.name}.{module}")
]
for name in names:
    importlib.import_module(name)
print(len(names))
print(" ".join(sorted(sys.modules)))
"""
    result = _run("-c", script)
    assert result.returncode == 0, result.stderr
    count, modules = result.stdout.splitlines()
    assert int(count) >= 15  # eight pipelines, seven with nodes
    assert _heavy(set(modules.split()), HEAVY_FOR_PIPELINES) == []
