"""The tuning pipeline: one worker of the Optuna study ``tuning.study_name``.

Run it on as many machines as you like against one Optuna storage and one
tracking server: each ``kedro run --pipelines tuning`` is one more worker.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import run_study, split_validation_set, study_report, tuning_inputs


def create_pipeline(**kwargs) -> Pipeline:
    """Build the tuning pipeline.

    Returns:
        ``split_validation_set`` (the study never sees the test split),
        ``run_study`` (trials until the study holds ``tuning.n_trials``) and
        ``report_study`` (best parameters, metrics and history figure) and
        ``log_tuning_inputs`` (the two splits as the run's MLflow dataset inputs).
    """
    return Pipeline(
        [
            Node(
                split_validation_set,
                inputs=["fashion_mnist_train", "params:tuning"],
                outputs=["tuning_fit_split", "tuning_validation_split"],
                name="split_validation_set",
            ),
            Node(
                run_study,
                inputs=[
                    "optuna_storage",
                    "trial_runs",
                    "tuning_fit_split",
                    "tuning_validation_split",
                    "params:training",
                    "params:tuning",
                    "params:class_names",
                ],
                outputs="tuning_trials",
                name="run_study",
            ),
            Node(
                tuning_inputs,
                inputs=["tuning_fit_split", "tuning_validation_split"],
                outputs="tuning_dataset_inputs",
                name="log_tuning_inputs",
            ),
            Node(
                study_report,
                inputs=["tuning_trials", "params:tuning"],
                outputs=[
                    "tuning_best_params",
                    "tuning_mlflow_metrics",
                    "tuning_history",
                ],
                name="report_study",
            ),
        ],
        tags="tuning",
    )
