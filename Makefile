# make reproduce   run the experiments (synthetic benchmark, cpu preset) -> runs/, figures/
# make test        the whole test suite (unit tests, real-MUFAC checks, notebooks)
# make lint        ruff on the package and the tests
# make lab         JupyterLab on the notebooks
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BENCHMARK ?= synthetic-mufac
DATA ?= data/synthetic-mufac
PRESET ?= cpu
RUN_DIR ?= runs/$(BENCHMARK)-$(PRESET)
SEEDS ?= 0,1,2
comma := ,

# the real MUFAC data (zip or folder): GLI_MUFAC_ZIP if set, else where `download mufac` puts it
MUFAC_ZIP ?= $(or $(GLI_MUFAC_ZIP),data/mufac)

.PHONY: setup reproduce test lint lab clean mufac-results mufac-regime

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

test: lint
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check gli_helpers tests

# Protocol 2 of results/mufac/PROTOCOL.md (the paper's regime on a CPU): pilot, then every method under the honest and
# the authors' procedure, seeds 0 1 2, exported to results/mufac/regime/ (resumable; seed 2 took 83 min on 2 cores, references included, mostly alone)
mufac-regime: setup
	MUFAC_ZIP=$(MUFAC_ZIP) PY=$(PY) scripts/mufac_regime.sh "$(subst $(comma), ,$(SEEDS))"
	$(PY) -m gli_helpers compare results/mufac/regime/results.csv --procedure honest --out results/mufac/regime/comparison-honest.md
	$(PY) -m gli_helpers compare results/mufac/regime/results.csv --procedure authors --out results/mufac/regime/comparison-authors.md
	$(PY) -m gli_helpers compare results/mufac/regime/results.csv --by-procedure honest authors --out results/mufac/regime/procedures.md
	$(PY) -c "import pandas as pd; from gli_helpers import plots; plots.save(plots.procedure_plot(pd.read_csv('results/mufac/regime/results.csv')), 'results/mufac/regime/procedures.png')"

# The real-MUFAC comparison in README "Results on MUFAC" (protocol: results/mufac/PROTOCOL.md; about 85 min on 2 cores)
mufac-results: setup
	$(PY) -m gli_helpers run --benchmark mufac --root $(MUFAC_ZIP) --preset cpu --methods all,ablation --seeds 0,1,2 \
		--trajectory-every 20 --out runs/mufac-cpu --quiet
	$(PY) -m gli_helpers run --benchmark mufac --root $(MUFAC_ZIP) --preset cpu --methods all,ablation --seeds 0 \
		--trajectory-every 20 --dedup --out runs/mufac-dedup-cpu --quiet
	$(PY) -m gli_helpers export-results runs/mufac-cpu results/mufac/full
	$(PY) -m gli_helpers export-results runs/mufac-dedup-cpu results/mufac/dedup
	$(PY) -m gli_helpers compare results/mufac/full/results.csv --out results/mufac/full/comparison.md --figures results/mufac
	$(PY) -m gli_helpers compare results/mufac/dedup/results.csv --out results/mufac/dedup/comparison.md

lab: setup
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf runs .pytest_cache
