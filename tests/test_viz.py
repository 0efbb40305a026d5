"""kedro-viz serves the default pipeline, and a real headless Chromium draws it.

The server runs in a project copy with empty data layers: viz reads code and
configuration only. Nothing leaves the machine: kedro-viz's PyPI version check
goes to a proxy that refuses every connection, and the browser may only reach
127.0.0.1.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kedro.framework.project import configure_project
from kedro.pipeline import Pipeline
from playwright.sync_api import Page

from fashion_mnist.pipeline_registry import register_pipelines
from tests.support.browser import fresh_browser
from tests.support.processes import (
    environment,
    free_port,
    refused_port,
    stop,
    wait_for_text,
)
from tests.support.project import PROJECT_ROOT, make_project_copy

pytestmark = pytest.mark.slow

VIEWPORT = {"width": 1600, "height": 1000}
VIZ_SETTINGS = {
    "theme": "light",
    "showFeatureHints": False,
    "visible": {"sidebar": False, "miniMap": False, "graph": True, "code": False},
}
ARTIFACT = PROJECT_ROOT / "test-artifacts" / "kedro-viz.png"
STARTUP_TIMEOUT_S = 120
# kedro-viz refuses ports above 49151 (and tries the next four when one is taken).
VIZ_PORTS_BELOW = 49152
# The layout has settled when every node stayed in place for this many looks
# in a row, one every LAYOUT_POLL_MS (kedro-viz animates nodes into place).
LAYOUT_POLL_MS = 100
SETTLED_LOOKS = 3
LAYOUT_SETTLED = """(looks) => {
    const layout = Array.from(document.querySelectorAll('g.pipeline-node'),
        g => g.getAttribute('class') + g.getAttribute('transform')).join('|');
    const same = layout !== '' && layout === window.__vizLayout;
    window.__vizLayout = layout;
    window.__vizSame = same ? (window.__vizSame || 0) + 1 : 0;
    return window.__vizSame >= looks;
}"""


@dataclass
class VizServer:
    url: str
    project: Path
    log: Path


def _get(url: str) -> bytes:
    # No proxy from the environment: the server is on this machine.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as response:
        return response.read()


@pytest.fixture(scope="module")
def refusing_proxy() -> Iterator[str]:
    """A proxy address that refuses connections: bound, never listening."""
    with refused_port() as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def viz_server(tmp_path_factory, refusing_proxy) -> Iterator[VizServer]:
    """`kedro viz run` in a fresh project copy; stopped even when a test fails."""
    root = tmp_path_factory.mktemp("viz")
    project = make_project_copy(root / "project").path
    log = root / "viz.log"
    env = environment(
        {
            # kedro-viz asks PyPI for its latest version at start-up and per page load.
            "HTTPS_PROXY": refusing_proxy,
            "https_proxy": refusing_proxy,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            # kedro-telemetry writes a user id under the config folder even when opted out.
            "XDG_CONFIG_HOME": str(root / "config"),
        }
    )
    command = [sys.executable, "-m", "kedro", "viz", "run", "--host", "127.0.0.1"]
    command += ["--port", str(free_port(below=VIZ_PORTS_BELOW)), "--no-browser"]
    with log.open("w") as stream:
        process = subprocess.Popen(
            command,
            cwd=project,
            env=env,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Printed once the server answers, in one write with its address.
        wait_for_text(log, "Kedro Viz is running at", process, STARTUP_TIMEOUT_S)
        match = re.search(r"running at\s+(http://\S+?)/?\s", log.read_text())
        assert match, log.read_text()[-6000:]
        yield VizServer(url=match.group(1), project=project, log=log)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def default_pipeline() -> Pipeline:
    configure_project("fashion_mnist")
    return register_pipelines()["__default__"]


def _short_name(node) -> str:
    return node.name.removeprefix(f"{node.namespace}.") if node.namespace else node.name


def _drawn_nodes(page: Page) -> list[tuple[str, str]]:
    """(kind, label) of every node in the flowchart: task, data or modularPipeline."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('g.pipeline-node')).map(g => [
            Array.from(g.classList).find(c => c.startsWith('pipeline-node--'))
                .replace('pipeline-node--', ''),
            g.textContent.trim(),
        ])"""
    )


def _open(page: Page, url: str) -> None:
    """Open the page and wait until the flowchart is drawn and its nodes stopped moving."""
    page.goto(url)
    page.wait_for_selector("g.pipeline-node--task", timeout=60_000)
    page.wait_for_function(
        LAYOUT_SETTLED, arg=SETTLED_LOOKS, polling=LAYOUT_POLL_MS, timeout=60_000
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Page]:
    """A page in a fresh Chromium profile, with every request off this machine refused."""
    with fresh_browser(
        tmp_path_factory.mktemp("chromium-profile"), VIEWPORT
    ) as context:
        # Readable in a README: light theme, the graph alone, no onboarding tour.
        context.add_init_script(
            f"localStorage.setItem('KedroViz', '{json.dumps(VIZ_SETTINGS)}')"
        )
        yield context.new_page()


def test_the_api_lists_every_node_and_dataset_of_the_default_pipeline(
    viz_server, default_pipeline
):
    graph = json.loads(_get(f"{viz_server.url}/api/main"))

    kinds = {kind: [] for kind in ("task", "data", "parameters", "modularPipeline")}
    for node in graph["nodes"]:
        kinds[node["type"]].append(node)
    assert sorted(n["full_name"] for n in kinds["task"]) == sorted(
        n.name for n in default_pipeline.nodes
    )
    assert {n["name"] for n in kinds["data"] + kinds["parameters"]} == set(
        default_pipeline.datasets()
    )
    assert {n["name"] for n in kinds["modularPipeline"]} == {"scratch", "concise"}
    assert {n["name"] for n in kinds["parameters"]} == {
        d for d in default_pipeline.datasets() if d.startswith("params:")
    }


def test_namespaced_nodes_are_reported_inside_their_namespace(
    viz_server, default_pipeline
):
    graph = json.loads(_get(f"{viz_server.url}/api/main"))

    tasks = {n["full_name"]: n for n in graph["nodes"] if n["type"] == "task"}
    for node in default_pipeline.nodes:
        reported = tasks[node.name]
        assert reported["name"] == _short_name(node)
        assert (reported["modular_pipelines"] or []) == (
            [node.namespace] if node.namespace else []
        )
    assert tasks["scratch.evaluate_model"]["modular_pipelines"] == ["scratch"]


def test_the_page_draws_each_model_as_a_collapsed_namespace(
    viz_server, default_pipeline, browser
):
    page = browser

    _open(page, f"{viz_server.url}/")
    drawn = _drawn_nodes(page)

    groups = sorted(label for kind, label in drawn if kind == "modularPipeline")
    tasks = sorted(label for kind, label in drawn if kind == "task")
    assert groups == ["concise", "scratch"]
    assert tasks == sorted(n.name for n in default_pipeline.nodes if not n.namespace)
    # Training is namespaced like evaluation and reporting: inside the groups.
    assert {"flatten_train", "compare_models", "check_thresholds"} <= set(tasks)
    assert not {"scratch.train", "concise.train", "train"} & set(tasks)


def test_the_expanded_page_draws_every_node_and_dataset(
    viz_server, default_pipeline, browser
):
    page = browser

    _open(page, f"{viz_server.url}/?expandAllPipelines=true")
    # kedro-viz 12.5 announces "Kedro-Viz None is here!" when PyPI is out of reach.
    dismiss = page.get_by_role("button", name="Dismiss")
    if dismiss.count():
        dismiss.first.click()
        dismiss.first.wait_for(state="hidden")
    drawn = _drawn_nodes(page)
    ARTIFACT.parent.mkdir(exist_ok=True)
    # `make docs-picture` copies it to docs/pipeline.png; tests never write tracked files.
    page.screenshot(path=ARTIFACT)

    by_kind = {
        kind: Counter(label for k, label in drawn if k == kind)
        for kind in ("task", "data", "modularPipeline")
    }
    assert by_kind["task"] == Counter(_short_name(n) for n in default_pipeline.nodes)
    assert set(by_kind["data"]) == {
        d for d in default_pipeline.datasets() if not d.startswith("params:")
    }
    assert not by_kind["modularPipeline"]
    assert by_kind["task"]["evaluate_model"] == 2
    assert ARTIFACT.stat().st_size > 50_000


def test_viz_leaves_no_mlflow_store_in_the_project(viz_server):
    created = {p.name for p in viz_server.project.iterdir()}

    assert not created & {"mlflow.db", "mlruns", "mlartifacts"}
    assert "Running Kedro-Viz without hooks" in viz_server.log.read_text()


def test_a_project_dataset_shows_its_file_path(viz_server):
    graph = json.loads(_get(f"{viz_server.url}/api/main"))
    [node] = [n for n in graph["nodes"] if n["name"] == "model_comparison"]

    details = json.loads(_get(f"{viz_server.url}/api/nodes/{node['id']}"))

    assert details["filepath"] == str(
        viz_server.project / "data/08_reporting/model_comparison.csv"
    )
    assert details["preview_type"] == "TablePreview"
