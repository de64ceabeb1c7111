# make run: set up the virtual environment and run the flow on the local workspace (ARGS="..." for flags)
# make test: set up and run the test suite (PYTEST_ARGS="..." to choose)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/constraints.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test clean

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "mnist-flow needs Python 3.11 (the Azure ML SDK v1 stops there); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python flows/main.py $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the venv and build leftovers; never the workspace (.workspace/ holds the model registry)
clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
