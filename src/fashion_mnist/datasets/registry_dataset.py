"""The MLflow model registry: register a run's models, move the champion on evidence."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from fashion_mnist.tracking import run

from .evidence_datasets import logged_model_id
from .model_card import model_card

logger = logging.getLogger(__name__)

CHAMPION = "champion"
# The version tag that makes a registration all or nothing: "pending" from the
# first version registered until every alias has moved, then "complete".
REGISTRATION = "registration"


@contextmanager
def _registry_lock(tracking_uri: str):
    """Serialise champion updates of runs sharing an embedded store (one machine)."""
    if not tracking_uri.startswith("sqlite:///"):
        yield  # a server's store: see the README on concurrent registrations
        return
    from filelock import FileLock

    with FileLock(Path(tracking_uri[len("sqlite:///") :] + ".registry.lock")):
        yield


class ModelRegistryDataset(AbstractDataset[dict[str, dict[str, Any]], None]):
    """Save-only: register this run's logged models and move the champion alias.

    Saving ``{model: facts}`` (from the registry node: test accuracy and its
    interval, per-class accuracy, data digests and the champion ``decision``)
    registers the run's logged model ``<model>_model`` as a new version of
    ``<prefix><model>``, tagged with the run, its accuracy, the git commit and
    the decision, and described by its model card. All or nothing: every
    version is registered (tagged ``registration: pending``) before any alias
    moves, and marked ``complete`` after. A version that a failed or killed
    registration left ``pending`` is marked by the next registration:
    ``abandoned`` (it never became champion), or ``complete`` when its alias
    had already moved; a run whose gate failed registers nothing but marks
    them too. Outside a ``kedro run`` nothing is registered.

    Example catalog entry::

        registered_models:
          type: fashion_mnist.datasets.ModelRegistryDataset
          prefix: fashion_mnist_
          alias: champion
    """

    def __init__(
        self,
        *,
        prefix: str = "fashion_mnist_",
        alias: str = CHAMPION,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            prefix: Registered model names are ``<prefix><model>``.
            alias: The alias that marks the best version.
            metadata: Free-form metadata, ignored by the dataset.
        """
        self._prefix = prefix
        self._alias = alias
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"prefix": self._prefix, "alias": self._alias}

    def load(self) -> None:
        raise DatasetError(
            f"{type(self).__name__} is save-only; read the champions with ChampionsDataset"
        )

    def save(self, data: dict[str, dict[str, Any]]) -> None:
        run_id = run.current_run_id()
        if run_id is None:
            return
        client = run.client()
        locked = client.tracking_uri.startswith("sqlite:///")
        with _registry_lock(client.tracking_uri):
            # Also in a run that registers nothing (its gate failed).
            self._repair(client, locked)
            if not data:
                return
            mlflow_run = client.get_run(run_id)
            sources = {
                model: self._logged_model(client, run_id, model) for model in data
            }
            versions = {}
            try:
                for model, facts in data.items():
                    versions[model] = self._register(
                        mlflow_run,
                        model,
                        {**facts, "registered_with": sorted(data)},
                        sources[model],
                    )
            except Exception:
                self._mark_unfinished(
                    client, list(versions.values()), "registration failed"
                )
                raise
            for model, facts in data.items():
                self._decide(client, model, versions[model], facts, mlflow_run)
            for version in versions.values():
                client.set_model_version_tag(
                    version.name, version.version, REGISTRATION, "complete"
                )

    def _logged_model(self, client, run_id: str, model: str) -> str:
        model_id = logged_model_id(client, run_id, f"{model}_model")
        if model_id is None:
            raise DatasetError(
                f"Run {run_id} logged no model '{model}_model' to register; "
                "run the training pipeline in the same kedro run."
            )
        return model_id

    def _register(self, mlflow_run, model: str, facts: dict, model_id: str):
        import mlflow

        decision = facts["decision"]
        # MLflow's own registration: creates the registered model on first use
        # and links the version to the logged model and its run.
        return mlflow.register_model(
            f"models:/{model_id}",
            f"{self._prefix}{model}",
            tags={
                "mlflow_run_id": mlflow_run.info.run_id,
                "test_acc": f"{facts['test_acc']:.6f}",
                "test_acc_ci_low": f"{facts['test_acc_ci_low']:.6f}",
                "test_acc_ci_high": f"{facts['test_acc_ci_high']:.6f}",
                "git_commit": mlflow_run.data.tags.get("git_commit", "unknown"),
                REGISTRATION: "pending",
                "registered_with": ",".join(facts["registered_with"]),
                "promote": str(decision["promote"]).lower(),
                "compared_with_version": decision["champion_version"] or "none",
                "p_value_vs_champion": "n/a"
                if decision["p_value"] is None
                else f"{decision['p_value']:.6g}",
                "champion_decision": decision["reason"],
            },
        )

    def _decide(self, client, model: str, version, facts: dict, mlflow_run) -> None:
        """Describe the version, then move the alias if the decision still holds."""
        name, decision = version.name, dict(facts["decision"])
        current = self._champion_version(client, name)
        if decision["promote"] and current != decision["champion_version"]:
            decision["promote"] = False
            decision["reason"] += (
                f"; but the champion became version {current} while this run "
                "ran, so the alias stays: rerun to compare with it"
            )
            for key, value in (
                ("champion_decision", decision["reason"]),
                ("promote", "false"),
            ):
                client.set_model_version_tag(name, version.version, key, value)
        client.update_model_version(
            name,
            version.version,
            description=model_card(
                name,
                version.version,
                {**facts, "decision": decision},
                mlflow_run,
                model,
            ),
        )
        if decision["promote"]:
            client.set_registered_model_alias(name, self._alias, version.version)
            logger.info(
                "Registered %s version %s: now the %s (%s)",
                name,
                version.version,
                self._alias,
                decision["reason"],
            )
        else:
            logger.info(
                "Registered %s version %s; the %s stays version %s: %s",
                name,
                version.version,
                self._alias,
                current,
                decision["reason"],
            )

    def _champion_version(self, client, name: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(client.get_model_version_by_alias(name, self._alias).version)
        except MlflowException:
            return None

    def _repair(self, client, locked: bool) -> None:
        """Mark the versions that a dead registration left pending.

        No alias moves here: the champions this run compared with stay valid.
        """
        pending = client.search_model_versions(
            f"name LIKE '{self._prefix}%' AND tags.{REGISTRATION} = 'pending'"
        )
        for version in pending:
            status = client.get_run(version.run_id).info.status
            # Under the lock no registration is in progress: pending means dead.
            if locked or status != "RUNNING":
                self._mark_unfinished(client, [version], f"its run ended {status}")

    def _mark_unfinished(self, client, versions, why: str) -> None:
        """Tag each version of an unfinished registration with what became of it."""
        for version in versions:
            name, number = version.name, version.version
            champion = self._champion_version(client, name) == str(number)
            state = "complete" if champion else "abandoned"
            note = (
                "its alias had moved: it is the champion"
                if champion
                else "it never became champion"
            )
            client.set_model_version_tag(name, number, REGISTRATION, state)
            client.set_model_version_tag(
                name,
                number,
                "registration_note",
                f"registration by run {version.run_id} left unfinished ({why}); {note}",
            )
            logger.warning(
                "%s version %s: registration by run %s left unfinished (%s); %s",
                name,
                number,
                version.run_id,
                why,
                note,
            )
