"""The retrain pipeline: the study's best setting on the whole training split.

It reads the study from the Optuna storage, so it runs once for the study,
whichever machine calls it, after the tuning workers finished.
"""

from kedro.pipeline import Node, Pipeline

from fashion_mnist.study import best_trial

from .nodes import retrain_best, study_trials, tuned_parameters


def create_pipeline(**kwargs) -> Pipeline:
    """Build the retrain pipeline.

    Returns:
        ``load_study_trials``, ``pick_best_trial``, ``retrain_best`` (train on
        all 60,000 training images, test once) and ``write_tuned_parameters``
        (``conf/tuned/parameters_training.yml`` for ``kedro run --env tuned``).
    """
    return Pipeline(
        [
            Node(
                study_trials,
                inputs=["optuna_storage", "trial_runs", "params:tuning"],
                outputs="retrain_study_trials",
                name="load_study_trials",
            ),
            Node(
                best_trial,
                inputs="retrain_study_trials",
                outputs="retrain_best_trial",
                name="pick_best_trial",
            ),
            Node(
                retrain_best,
                inputs=[
                    "fashion_mnist_train",
                    "fashion_mnist_test",
                    "params:training",
                    "params:tuning",
                    "retrain_best_trial",
                    "params:class_names",
                ],
                outputs="tuned_result",
                name="retrain_best",
            ),
            Node(
                tuned_parameters,
                inputs=["params:training", "tuned_result"],
                outputs=["tuned_parameters", "tuned_mlflow_metrics"],
                name="write_tuned_parameters",
            ),
        ],
        tags="retrain",
    )
