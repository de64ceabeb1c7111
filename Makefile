# make run    set up .venv and run the flow on the local workspace (flags: make run ARGS="--regularization 0.4")
# make test   set up .venv with the test and Azure extras and run the tests (PYTEST_ARGS="..." to choose,
#             JOBS=1 for one process)
# make test-fast  the tests of plain functions only (no flow, server or process: tests/conftest.py marks the rest slow)
# make lint   ruff (check and format check) and mypy, as CI runs them before the tests
# make docs   serve docs/ on 127.0.0.1:8000 (make docs-check: mkdocs build --strict, as CI runs it)
# make install-<extra>  add a backend's SDK, its extra (workspaces/backends.py): install-azure for --backend azureml
#                       (SDK v1), install-azure-v2 for --backend azureml-v2 (SDK v2: azure-ai-ml); install-team for
#                       the team's MLflow server with basic authentication (docs/deployments-and-teams.md)
# make serve  serve the champion with `mlflow models serve` on 127.0.0.1:5001 (MODEL=models:/sklearn_mnist/3, PORT=)
# make prune KEEP_DAYS=30  delete from Prefect's database the flow runs that ended more than KEEP_DAYS ago, with
#             their logs and artifacts (Prefect's own vacuum; the temporary server never runs it: plumbing/prune.py)
# make bench  measure the flow against the bare tutorial script (benchmarks/)
# make bench-polling  measure what following N Azure ML runs costs in requests (benchmarks/polling.py)
# make deploy the work pool, the deployments of prefect.yaml, and the automations (against PREFECT_API_URL)
# make automations  apply automations/*.yaml, notifying through the block MNIST_FLOW_NOTIFY_BLOCK names
PYTHON ?= $(shell command -v python3.11 || command -v python3)
# pytest workers: the flow tests often wait (on processes, servers, back-off), so three overlap on 2 cores; a fourth
# only made each test slower (docs/contributing.md has the measurements)
JOBS ?= 3
VENV := .venv
BIN := $(VENV)/bin
# a stamp per set of extras, renewed whenever the pins or the project's dependencies change
PINS := $(shell cat requirements/constraints.txt pyproject.toml | cksum | cut -d' ' -f1)
INSTALL = $(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e

.PHONY: install azurite run serve test test-fast lint docs docs-check deploy automations prune bench bench-polling clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "mnist-flow needs Python 3.11 (the Azure ML SDK v1 stops there); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.base-$(PINS): $(BIN)/python
	$(INSTALL) .
	touch $@

# the test extra holds every backend's extra (pyproject.toml)
$(VENV)/.test-$(PINS): $(BIN)/python
	$(INSTALL) '.[test]'
	touch $@ $(VENV)/.base-$(PINS)

.PRECIOUS: $(VENV)/.extra-%-$(PINS)  # a stamp, kept: make would delete it as an intermediate file
$(VENV)/.extra-%-$(PINS): $(BIN)/python
	$(INSTALL) '.[$*]'
	touch $@ $(VENV)/.base-$(PINS)

# Azurite, Microsoft's storage emulator, for the SDK v2 tests (marked azure_http); it needs Node.js and npm, and
# without them those tests skip, saying why (CI has both)
AZURITE := $(VENV)/azurite/node_modules/.bin/azurite-blob
$(AZURITE):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix $(VENV)/azurite azurite@3.37.0; \
	else echo "npm not found: the azure_http tests will skip (install Node.js 20 to run them)"; fi

azurite: $(AZURITE)

install: $(VENV)/.base-$(PINS)
install-%: $(VENV)/.extra-%-$(PINS) ;

run: $(VENV)/.base-$(PINS)
	$(BIN)/python flows/main.py $(ARGS)

# the local registry's model through MLflow's own server; PATH holds the venv because it execs `uvicorn`
WORKSPACE ?= $(or $(MNIST_FLOW_WORKSPACE),.workspace)
MODEL ?= models:/sklearn_mnist@champion
PORT ?= 5001
KEEP_DAYS ?= 30
prune: $(VENV)/.base-$(PINS)
	$(BIN)/python -m plumbing.prune --keep-days $(KEEP_DAYS)

serve: $(VENV)/.base-$(PINS)
	PATH="$(abspath $(BIN)):$$PATH" MLFLOW_TRACKING_URI="sqlite:///$(abspath $(WORKSPACE))/mlflow.db" \
		$(BIN)/mlflow models serve -m "$(MODEL)" --env-manager local -h 127.0.0.1 -p $(PORT)

test: $(VENV)/.test-$(PINS) azurite
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup $(PYTEST_ARGS)

test-fast: $(VENV)/.test-$(PINS)
	$(BIN)/python -m pytest -n 2 -m "not slow and not mnist and not e2e and not browser" $(PYTEST_ARGS)

docs: $(VENV)/.extra-docs-$(PINS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve -a 127.0.0.1:8000

docs-check: $(VENV)/.extra-docs-$(PINS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

lint: $(VENV)/.test-$(PINS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# the deploy path, against the server PREFECT_API_URL names: the pool (kept if it exists), the deployments
# (their daily schedules off until someone turns them on), then the automations
deploy: $(VENV)/.base-$(PINS)
	$(BIN)/prefect work-pool inspect mnist-local >/dev/null 2>&1 || $(BIN)/prefect work-pool create mnist-local --type process
	$(BIN)/prefect --no-prompt deploy --all
	$(BIN)/python -m plumbing.automations

automations: $(VENV)/.base-$(PINS)
	$(BIN)/python -m plumbing.automations

# benchmarks/: the flow against the bare tutorial script on the full MNIST at 1, 4 and 16 rates, about 30 minutes on 2 cores (BENCH_ARGS="--repeat 1" about 10)
bench: $(VENV)/.base-$(PINS)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# benchmarks/polling.py: what following 1, 4, 16 and 64 runs costs in requests to Azure ML (both SDKs, their fakes), about 4 minutes
bench-polling: $(VENV)/.test-$(PINS) azurite
	$(BIN)/python -m pytest -p tests.conftest benchmarks/polling.py -q -s

# the venv and build leftovers; never the workspace (.workspace/ holds the model registry)
clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
