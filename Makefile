# The two commands a newcomer needs: `make run` and `make test`.
# Every target sets up .venv first; re-running skips what is already installed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Each server binds to the loopback address unless its own variable says otherwise
# (not HOST, which many shells and containers export as 0.0.0.0).
SERVE_HOST ?= 127.0.0.1
MLFLOW_HOST ?= 127.0.0.1
VIZ_HOST ?= 127.0.0.1
VIZ_PORT ?= 4141
MLFLOW_PORT ?= 5000
# One web worker is plenty for one user's UI, and it starts in a third of the time.
MLFLOW_WORKERS ?= 1
SERVE_PORT ?= 5050
# The largest request `make serve` reads, in MiB (10,000 images as JSON: 20 to 34).
SERVE_MAX_MB ?= 64
MODEL ?= scratch
MODEL_URI ?= models:/fashion_mnist_$(MODEL)@champion
# The project's embedded store by absolute path, so that `make serve` finds
# the registry whatever the working folder; MLFLOW_TRACKING_URI overrides it.
TRACKING_URI := $(or $(MLFLOW_TRACKING_URI),sqlite:///$(abspath mlflow.db))
PYTEST_ARGS ?=
# pytest-xdist workers: most tests wait on kedro processes, servers and SQLite,
# so two workers on two cores take about 4 min 20 s where one takes over 6 min.
PYTEST_WORKERS ?= auto
SWEEP_ARGS ?=

export KEDRO_DISABLE_TELEMETRY := 1
export MLFLOW_DISABLE_TELEMETRY := true
export MPLBACKEND := Agg

.DEFAULT_GOAL := help
.PHONY: help install run test lint format viz viz-port viz-build docs-picture store mlflow-ui serve bench sweep gc clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip runs again only when pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(STAMP) ## Create .venv and install the project with its dev tools

run: install ## Run every pipeline (kedro run)
	$(BIN)/kedro run

test: install ## Lint, then run the whole test suite
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --durations=10 $(PYTEST_ARGS)

lint: install ## ruff check and ruff format --check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: install ## Let ruff fix what it can
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

# Checked before anything is installed or started.
viz-port:
	@[ "$(VIZ_PORT)" -ge 1 ] 2>/dev/null && [ "$(VIZ_PORT)" -le 49151 ] || { echo "make viz: VIZ_PORT=$(VIZ_PORT) is not a port kedro-viz accepts; pick one from 1 to 49151, e.g. VIZ_PORT=4242 make viz" >&2; exit 2; }

viz: viz-port install ## Serve kedro-viz on $(VIZ_HOST):$(VIZ_PORT)
	$(BIN)/kedro viz run --host $(VIZ_HOST) --port $(VIZ_PORT) --no-browser

viz-build: install ## Write kedro-viz as a static site under build/
	$(BIN)/kedro viz build

docs-picture: install ## Refresh docs/pipeline.png from the kedro-viz browser test's screenshot
	$(BIN)/python -m pytest -q tests/test_viz.py
	cp test-artifacts/kedro-viz.png docs/pipeline.png

# Each command that can create mlflow.db creates it under the lock `kedro run` takes:
# two started together (`make serve` and a `kedro run`) would both migrate it.
# Silent unless it fails (one `Error:` line on stderr): the servers' first lines come first.
store: install ## Create the project's MLflow store (or check its tracking server) before anything opens it
	@$(BIN)/python -m fashion_mnist.tracking.store > /dev/null

mlflow-ui: store ## Open the MLflow UI on the project's store, on $(MLFLOW_HOST):$(MLFLOW_PORT)
	@MLFLOW_TRACKING_URI="$(TRACKING_URI)" $(BIN)/python -m fashion_mnist.tracking.summary http://$(MLFLOW_HOST):$(MLFLOW_PORT)
	PATH="$(abspath $(BIN)):$$PATH" MLFLOW_WORKERS=$(MLFLOW_WORKERS) $(BIN)/kedro mlflow ui --host $(MLFLOW_HOST) --port $(MLFLOW_PORT)

# MLflow's scoring app behind the project's request contract and body-size
# limit (src/fashion_mnist/serving/app.py); its first line names the version served.
serve: store ## Serve a registered model over HTTP (MODEL=scratch|concise, the champion; or MODEL_URI=...) on $(SERVE_HOST):$(SERVE_PORT)
	@MLFLOW_TRACKING_URI="$(TRACKING_URI)" $(BIN)/python -m fashion_mnist.serving \
		--model-uri "$(MODEL_URI)" --host $(SERVE_HOST) --port $(SERVE_PORT) --max-request-mb $(SERVE_MAX_MB)

bench: install ## Time the training nodes against a plain reference loop
	@test -f data/03_primary/fashion_mnist_train.parquet || $(BIN)/kedro run --pipelines ingestion
	$(BIN)/python benchmarks/bench_training.py

sweep: install ## Tune (Optuna study, conf/base/parameters_tuning.yml), retrain the best, write conf/tuned/
	@test -f data/03_primary/fashion_mnist_train.parquet || $(BIN)/kedro run --pipelines ingestion
	$(BIN)/kedro run --pipelines tuning $(SWEEP_ARGS)
	$(BIN)/kedro run --pipelines retrain $(SWEEP_ARGS)
	@echo "Result (tuned_from: study, best trial, validation and test accuracy), in conf/tuned/parameters_training.yml; use it with: kedro run --env tuned"
	@cat conf/tuned/parameters_training.yml

gc: store ## Delete for good the runs deleted in the UI or with `mlflow runs delete`, artifacts included
	MLFLOW_TRACKING_URI="$(TRACKING_URI)" $(BIN)/mlflow gc --backend-store-uri "$(TRACKING_URI)"
	@# mlflow gc empties a run's folder under mlruns/<experiment>/ but leaves it.
	@find mlruns -mindepth 2 -maxdepth 2 -type d -empty -delete 2>/dev/null || true

clean: ## Remove generated data, reports and caches (keeps .venv, mlflow.db and optuna.db)
	find data -mindepth 2 -type f ! -name .gitkeep -delete
	find data -mindepth 2 -type d -empty -delete
	rm -rf build .viz test-artifacts info.log .pytest_cache .ruff_cache
	find src tests -name __pycache__ -type d -prune -exec rm -rf {} +
