"""Helpers that tests import; fixtures stay in conftest.py.

- `project`: PROJECT_ROOT, throw-away project copies (real or synthetic data), run
  by a `kedro` process (`ProjectCopy.kedro`) or in this process (`ProjectCopy.run`).
- `synthetic`: small synthetic Fashion-MNIST look-alikes; the project's class names.
- `processes`: a child's environment, ports from the OS, waiting for an event,
  stopping a process (and its group).
- `postgres`: a throw-away PostgreSQL cluster.
- `mlflow_server`: an `mlflow server` process against a backend store.
- `runs`: real `kedro run` processes and their MLflow record.
- `conf`: the project's conf/base folder and one of its catalog entries.
"""
