"""A registered version's model card: the Markdown description the MLflow UI shows."""

from __future__ import annotations

from typing import Any

from fashion_mnist.significance import CONFIDENCE


def model_card(
    name: str, version: str, facts: dict[str, Any], mlflow_run: Any, model: str
) -> str:
    """The Markdown description of a new version of ``name``.

    Args:
        name: The registered model (``fashion_mnist_scratch``).
        version: The new version's number.
        facts: What the registry node decided: ``test_acc``,
            ``test_acc_ci_low``, ``test_acc_ci_high``, ``test_per_class_acc``,
            ``data`` (digest by dataset name) and ``decision``.
        mlflow_run: The MLflow run that trained and registered the version.
        model: The model's name in the run (``scratch``): its artifact folder.

    Returns:
        The card: accuracy and interval, the champion decision, the data, the
        per-class accuracy, the training parameters and the run.
    """
    info, data = mlflow_run.info, mlflow_run.data
    decision = facts["decision"]
    lines = [
        f"## {name} version {version}",
        "",
        f"**Test accuracy {facts['test_acc']:.4f}** ({CONFIDENCE:.0%} Wilson score "
        f"interval {facts['test_acc_ci_low']:.4f} – {facts['test_acc_ci_high']:.4f}).",
        "",
        "### Against the champion",
        "",
        _decision_text(decision),
        "",
        "### Data",
        "",
        "| dataset | content digest (SHA-256, first 128 bits) |",
        "|---|---|",
        *(f"| {table} | `{digest}` |" for table, digest in facts["data"].items()),
        "",
        "### Test accuracy per class",
        "",
        "| class | accuracy |",
        "|---|---|",
        *(
            f"| {cls} | {acc:.4f} |" if acc is not None else f"| {cls} | (absent) |"
            for cls, acc in facts["test_per_class_acc"].items()
        ),
        "",
        "### Parameters",
        "",
        "| parameter | value |",
        "|---|---|",
        *(
            f"| {key} | `{value}` |"
            for key, value in sorted(data.params.items())
            if key.startswith("training.")
        ),
        "",
        "### Run",
        "",
        f"- MLflow run `{info.run_id}` (`{info.run_name}`), experiment "
        f"{info.experiment_id}",
        f"- git commit `{data.tags.get('git_commit', 'unknown')}`",
        f"- confusion matrix: [`{model}/confusion_matrix.png`]"
        f"(#/experiments/{info.experiment_id}/runs/{info.run_id}/artifacts"
        "?workflowType=machine_learning), "
        f"`runs:/{info.run_id}/{model}/confusion_matrix.png`",
    ]
    return "\n".join(lines) + "\n"


def _decision_text(decision: dict[str, Any]) -> str:
    rule = (
        f"policy `{decision['policy']}`, alpha = {decision['alpha']:g}, McNemar's "
        "exact test on the paired test predictions"
    )
    if decision["champion_version"] is None:
        return f"No champion before this version: it became the champion ({rule})."
    outcome = (
        "**it became the champion**"
        if decision["promote"]
        else f"**the champion stayed version {decision['champion_version']}**"
    )
    difference = decision["difference"]
    p_value = decision["p_value"]
    facts = ", ".join(
        part
        for part in (
            None if difference is None else f"difference {difference:+.4f}",
            None if p_value is None else f"p = {p_value:.3g}",
        )
        if part
    )
    return (
        f"Compared with version {decision['champion_version']}: "
        f"{decision['reason']} ({facts}{'; ' if facts else ''}{rule}): {outcome}."
    )
