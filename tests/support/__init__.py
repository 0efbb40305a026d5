"""Helpers that tests import; fixtures stay in conftest.py.

- `project`: PROJECT_ROOT, throw-away project copies (real or synthetic data).
- `synthetic`: small synthetic Fashion-MNIST look-alikes.
- `processes`: free ports, waiting for a server, stopping a process.
- `postgres`: a throw-away PostgreSQL cluster.
- `mlflow_server`: an `mlflow server` process against a backend store.
- `runs`: real `kedro run` processes and their MLflow record.
"""
