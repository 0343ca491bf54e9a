# make reproduce   run the experiments (synthetic benchmark, cpu preset) -> runs/, figures/
# make test        the whole test suite (unit tests, real-MUFAC checks, notebooks)
# make lab         JupyterLab on the notebooks
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BENCHMARK ?= synthetic-mufac
DATA ?= data/synthetic-mufac
PRESET ?= cpu
RUN_DIR ?= runs/$(BENCHMARK)-$(PRESET)
SEEDS ?= 0,1,2

.PHONY: setup reproduce test lint lab clean

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

setup: $(VENV)/.installed

reproduce: setup
	$(PY) -m gli_helpers reproduce --benchmark $(BENCHMARK) --root $(DATA) --preset $(PRESET) --seeds $(SEEDS) --out $(RUN_DIR)

test: setup
	$(PY) -m ruff check gli_helpers tests
	$(PY) -m pytest

lab: setup
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf runs .pytest_cache
