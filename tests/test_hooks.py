"""Run names that say what ran."""

import pytest

from fashion_mnist.hooks import run_name, runner_name


@pytest.mark.parametrize(
    ("run_params", "expected"),
    [
        ({}, "__default__ defaults"),
        ({"pipeline_names": ["training"], "runtime_params": {"training": {"lr": 0.05}}}, "training training.lr=0.05"),
        ({"from_nodes": ["train_scratch"], "runtime_params": {"training.lr": 0.05}}, "__default__ --from-nodes=train_scratch training.lr=0.05"),
        ({"tags": ["scratch", "training"], "runner": "<kedro.runner.thread_runner.ThreadRunner object at 0x7f>"}, "__default__ --tags=scratch,training ThreadRunner defaults"),
        ({"node_names": ["train_concise"], "to_nodes": ["compare_models"]}, "__default__ --to-nodes=compare_models --nodes=train_concise defaults"),
    ],
)  # fmt: skip
def test_the_run_name_says_which_pipelines_filters_runner_and_overrides_ran(
    run_params, expected
):
    assert run_name(run_params) == expected


def test_an_async_run_is_named_so():
    assert run_name({}, is_async=True) == "__default__ --async defaults"


def test_the_runner_is_named_by_its_class_not_its_repr():
    assert (
        runner_name(
            {"runner": "<kedro.runner.parallel_runner.ParallelRunner object at 0x1>"}
        )
        == "ParallelRunner"
    )
    assert runner_name({"runner": None}) == "SequentialRunner"
