"""The run record: one truthful MLflow run per ``kedro run``, around kedro-mlflow's hook.

kedro-mlflow's own hook starts, feeds and ends the run; the hooks here each
do one job around it:

- :mod:`.store`: fail fast on a dead server, create the embedded store once
  (also ``python -m fashion_mnist.tracking.store``, which ``make serve`` runs);
- :mod:`.runner_check`: refuse ParallelRunner before any run exists;
- :mod:`.record`: bind the run for every thread, name and tag it, record
  signals, stop in one sentence when the server is lost (:mod:`.outage`),
  end what earlier runs left open (:mod:`.leftovers`);
- :mod:`.reproducibility`: code, data, library versions, device, seed;
- :mod:`.params`: every field of the validated parameter groups;
- :mod:`.gate`: fail the run, once it is recorded, when its gate failed.

:mod:`.run` and :mod:`.processes` hold what datasets share with the hooks.
Nothing here imports MLflow at module import: every ``kedro`` command imports
these modules through ``settings.py``.
"""
