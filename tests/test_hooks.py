"""The run record's hooks: names, parameter fields, their order around kedro-mlflow's hook."""

from __future__ import annotations

import pluggy
import pytest
from kedro.framework.hooks.markers import HOOK_NAMESPACE
from kedro.framework.hooks.specs import NodeSpecs, PipelineSpecs
from kedro.io import DataCatalog, SharedMemoryDataCatalog
from mlflow import MlflowClient

from fashion_mnist import settings
from fashion_mnist.params import EvaluationParams
from fashion_mnist.tracking import run
from fashion_mnist.tracking.gate import GateHook, ThresholdGateError
from fashion_mnist.tracking.names import run_name, run_tags
from fashion_mnist.tracking.params import ParameterLoggingHook, model_fields
from fashion_mnist.tracking.runner_check import RunnerCheckHook, UnsupportedRunnerError
from tests.support.synthetic import THRESHOLDS


@pytest.mark.parametrize(
    ("run_params", "runner", "expected"),
    [
        ({}, "SequentialRunner", "defaults __default__"),
        ({"env": "local"}, "SequentialRunner", "defaults __default__"),
        ({"env": "tuned"}, "SequentialRunner", "--env=tuned __default__"),
        ({"pipeline_names": ["training"], "runtime_params": {"training": {"lr": 0.05}}}, "SequentialRunner", "training.lr=0.05 training"),
        ({"from_nodes": ["train_scratch"], "runtime_params": {"training.lr": 0.05}, "env": "tuned"}, "SequentialRunner", "training.lr=0.05 --env=tuned --from-nodes=train_scratch __default__"),
        ({"tags": ["scratch", "training"]}, "ThreadRunner", "--tags=scratch,training ThreadRunner __default__"),
        ({"node_names": ["train_concise"], "to_nodes": ["compare_models"]}, "SequentialRunner", "--to-nodes=compare_models --nodes=train_concise __default__"),
    ],
)  # fmt: skip
def test_the_run_name_leads_with_overrides_env_filters_and_runner_then_the_pipelines(
    run_params, runner, expected
):
    assert run_name(run_params, runner) == expected


def test_an_async_run_is_named_so():
    assert run_name({}, is_async=True) == "--async __default__"


def test_the_kedro_command_tag_repeats_the_run_env_params_and_runner_included():
    run_params = {
        "env": "tuned",
        "pipeline_names": ["training", "evaluation"],
        "from_nodes": ["scratch.train"],
        "runtime_params": {"training": {"lr": 0.05, "seed": 3}},
    }

    tags = run_tags(run_params, "ThreadRunner")

    assert tags["kedro_command"] == (
        "kedro run --env=tuned --pipelines=training,evaluation "
        "--from-nodes=scratch.train --runner=ThreadRunner "
        "--params=training.lr=0.05,training.seed=3"
    )
    assert tags["kedro.env"] == "tuned"
    assert run_tags({})["kedro_command"] == "kedro run"
    assert run_tags({})["kedro.env"] == "local"


def test_a_validated_group_is_logged_field_by_field_under_its_dotted_names():
    evaluation = EvaluationParams.model_validate(
        {"thresholds": THRESHOLDS, "on_failure": "warn"}
    )

    fields = model_fields("evaluation", evaluation)

    assert fields["evaluation.thresholds.min_test_acc"] == "0.7"
    assert fields["evaluation.on_failure"] == "warn"
    assert model_fields("lr", 0.1) == {}


def test_a_nodes_parameter_fields_go_to_the_bound_run_in_one_request(mlflow_store):
    client = MlflowClient(mlflow_store)
    mlflow_run = client.create_run(client.create_experiment("params"))
    evaluation = EvaluationParams.model_validate({"thresholds": THRESHOLDS})
    hook = ParameterLoggingHook()
    run.bind(mlflow_run.info.run_id, mlflow_store, frozenset())
    try:
        for _ in range(2):  # a second node reading the same group logs nothing new
            hook.before_node_run(node=None, inputs={"params:evaluation": evaluation})
    finally:
        run.unbind()

    params = client.get_run(mlflow_run.info.run_id).data.params
    assert params["evaluation.thresholds.min_test_acc"] == "0.7"


def _manager() -> pluggy.PluginManager:
    """The hooks registered as a Kedro session registers them: the project's, then plugins'."""
    manager = pluggy.PluginManager(HOOK_NAMESPACE)
    manager.add_hookspecs(NodeSpecs)
    manager.add_hookspecs(PipelineSpecs)
    for hook in settings.HOOKS:
        manager.register(hook)
    manager.load_setuptools_entrypoints("kedro.hooks")
    return manager


def _call_order(manager: pluggy.PluginManager, hook_name: str) -> list[str]:
    """Class names in the order pluggy calls them (it calls the last of its list first)."""
    impls = getattr(manager.hook, hook_name).get_hookimpls()
    return [type(impl.plugin).__name__ for impl in reversed(impls)]


def test_kedro_mlflows_own_hook_is_registered_and_ours_sit_around_it():
    manager = _manager()

    before = _call_order(manager, "before_pipeline_run")
    after = _call_order(manager, "after_pipeline_run")

    assert "MlflowHook" in before
    assert before.index("RunnerCheckHook") < before.index("MlflowHook")
    assert before.index("MlflowHook") < before.index("RunRecordHook")
    assert before.index("MlflowHook") < before.index("ReproducibilityTagsHook")
    assert after.index("GateHook") < after.index("MlflowHook")
    assert after.index("MlflowHook") < after.index("RunRecordHook")


def test_parallel_runner_is_refused_by_its_catalog_and_other_runners_pass():
    hook = RunnerCheckHook()

    with pytest.raises(UnsupportedRunnerError, match="ParallelRunner is not supported"):
        hook.before_pipeline_run({}, None, SharedMemoryDataCatalog())
    hook.before_pipeline_run({}, None, DataCatalog())


def test_the_gate_fails_a_run_only_when_its_own_verdict_failed_with_raise():
    hook = GateHook()
    failed = {"passed": False, "failures": ["scratch: test_acc = 0.1000, bound > 0.7"]}

    hook.after_node_run(outputs={"gate_verdict": {**failed, "on_failure": "warn"}})
    hook.after_pipeline_run()
    hook.after_node_run(outputs={"gate_verdict": {**failed, "on_failure": "raise"}})
    with pytest.raises(
        ThresholdGateError,
        match=r"(?s)Threshold gate failed \(1 checks\).*scratch: test_acc",
    ):
        hook.after_pipeline_run()
    hook.after_pipeline_run()  # the verdict was this run's: the next run starts clean
