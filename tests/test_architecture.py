"""The shape of src/: public mechanisms only, imports that point down, small modules.

Read with ``ast``, never by importing: a forbidden pattern is found even in a
branch that no test runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.architecture import (
    MAX_LINES,
    import_cycles,
    import_graph,
    module_name,
    private_uses,
    sideways_imports,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "fashion_mnist"
SOURCES = sorted(SRC.rglob("*.py"))


def _trees() -> dict[str, ast.Module]:
    return {module_name(path, SRC): ast.parse(path.read_text()) for path in SOURCES}


def test_src_uses_no_private_internals_of_its_dependencies():
    trees = _trees()

    problems = private_uses(trees)

    assert problems == []


def test_the_import_graph_has_no_cycle():
    graph = import_graph(_trees())

    assert import_cycles(graph) == []


def test_imports_point_down_and_no_pipeline_imports_another():
    graph = import_graph(_trees())

    assert sideways_imports(graph) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_is_over_300_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_the_checks_find_each_forbidden_pattern():
    bad = {
        "fashion_mnist.a": ast.parse(
            "import os, sys, atexit\n"
            "from kedro_mlflow.framework.hooks.utils import _flatten_dict\n"
            "from mlflow.utils import requirements_utils\n"
            "import fashion_mnist.b\n"
            "sys.modules['x'] = None\n"
            "atexit._run_exitfuncs()\n"
            "os._exit(0)\n"
            "requirements_utils._MODULES_TO_PACKAGES = {}\n"
            "DISABLE_HOOKS_FOR_PLUGINS = ('kedro-mlflow',)\n"
            "def f(study, trial):\n"
            "    study._storage.set_trial_user_attr(trial._trial_id, 'k', 1)\n"
        ),
        "fashion_mnist.b": ast.parse(
            "import fashion_mnist.a\nfrom fashion_mnist.pipelines.x import nodes\n"
        ),
        "fashion_mnist.pipelines.x.nodes": ast.parse("x = 1\n"),
        "fashion_mnist.pipelines.y.nodes": ast.parse(
            "from fashion_mnist.pipelines.x.nodes import x\n"
        ),
    }

    found = "\n".join(private_uses(bad))
    graph = import_graph(bad)

    for pattern in (
        "_flatten_dict",
        "sys.modules",
        "_run_exitfuncs",
        "os._exit",
        "_MODULES_TO_PACKAGES",
        "DISABLE_HOOKS_FOR_PLUGINS",
        "_storage",
        "_trial_id",
    ):
        assert pattern in found
    assert import_cycles(graph) == [["fashion_mnist.a", "fashion_mnist.b"]]
    assert sorted(sideways_imports(graph)) == [
        "fashion_mnist.b imports fashion_mnist.pipelines.x.nodes",
        "fashion_mnist.pipelines.y.nodes imports fashion_mnist.pipelines.x.nodes",
    ]
