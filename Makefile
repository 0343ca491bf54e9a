# make reproduce   run the experiments (synthetic benchmark, cpu preset) -> runs/, figures/
# make test        the whole test suite (unit tests, real-MUFAC checks, notebooks)
# make test-fast   the tests not marked slow (no notebooks, servers or training past the smoke preset)
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

.PHONY: setup reproduce test test-fast lint lab clean mufac-results mufac-regime mufac-regime-field mufac-figures

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

test-fast: lint
	$(PY) -m pytest -m "not slow"

lint: setup
	$(PY) -m ruff check gli_helpers tests

# Protocol 2 of results/mufac/PROTOCOL.md (the paper's regime on a CPU): pilot, then every method under the honest and
# the authors' procedure, seeds 0 1 2, exported to results/mufac/regime/ (resumable; seed 2 took 83 min on 2 cores, references included, mostly alone)
mufac-regime: setup
	MUFAC_ZIP=$(MUFAC_ZIP) PY=$(PY) scripts/mufac_regime.sh "$(subst $(comma), ,$(SEEDS))"
	$(PY) -m gli_helpers compare results/mufac/regime/results.csv --procedure honest --methods paper,ablation --out results/mufac/regime/comparison-honest.md
	$(PY) -m gli_helpers compare results/mufac/regime/results.csv --procedure authors --methods paper,ablation --out results/mufac/regime/comparison-authors.md
	$(PY) -m gli_helpers compare results/mufac/regime/results.csv --by-procedure honest authors --methods paper,ablation --out results/mufac/regime/procedures.md
	$(PY) -c "from gli_helpers import findings; print(findings.draw('final_scores', 'results/mufac/figures').sentence)"

# Protocol 2b (results/mufac/PROTOCOL.md): the field's current baselines added to protocol 2's folder and tables
mufac-regime-field: setup
	MUFAC_ZIP=$(MUFAC_ZIP) PY=$(PY) REFERENCES=keep METHODS=neggrad_plus,l1_sparse,random_labels,salun,ssd scripts/mufac_regime.sh "$(subst $(comma), ,$(SEEDS))"
	$(PY) scripts/refresh_tables.py

# Protocol 1 of results/mufac/PROTOCOL.md (32 px, 15 epochs), exported to results/mufac/full and results/mufac/dedup,
# with the settings its committed rows were made with: clean unlearning batches, GLI's K = 2, UNSIR's earlier reading
# (one impair epoch, uniform noise, the forget set cycled); tests/test_docs.py checks them against results/mufac/full/configs
mufac-results: setup
	$(PY) -m gli_helpers run --benchmark mufac --root $(MUFAC_ZIP) --preset cpu --methods paper,ablation --seeds 0,1,2 \
		--trajectory-every 20 --out runs/mufac-cpu --quiet \
		--method-config '{"finetune": {"augment": false}, "cf_k": {"augment": false}, "eu_k": {"augment": false}, "neggrad": {"augment": false}, "unsir": {"augment": false, "epochs": 1, "noise": "uniform", "pairing": "cycle"}, "scrub": {"augment": false}, "bad_teaching": {"augment": false}, "gli": {"augment": false, "perturbation_steps": 2}, "gli_l1": {"augment": false, "perturbation_steps": 2}, "gli_cosine": {"augment": false, "perturbation_steps": 2}}'
	$(PY) -m gli_helpers run --benchmark mufac --root $(MUFAC_ZIP) --preset cpu --methods paper,ablation --seeds 0 \
		--trajectory-every 20 --dedup --out runs/mufac-dedup-cpu --quiet \
		--method-config '{"finetune": {"augment": false}, "cf_k": {"augment": false}, "eu_k": {"augment": false}, "neggrad": {"augment": false}, "unsir": {"augment": false, "epochs": 1, "noise": "uniform", "pairing": "cycle"}, "scrub": {"augment": false}, "bad_teaching": {"augment": false}, "gli": {"augment": false, "perturbation_steps": 2}, "gli_l1": {"augment": false, "perturbation_steps": 2}, "gli_cosine": {"augment": false, "perturbation_steps": 2}}'
	$(PY) -m gli_helpers export-results runs/mufac-cpu results/mufac/full
	$(PY) -m gli_helpers export-results runs/mufac-dedup-cpu results/mufac/dedup
	$(PY) -m gli_helpers compare results/mufac/full/results.csv --out results/mufac/full/comparison.md
	$(PY) -m gli_helpers compare results/mufac/dedup/results.csv --out results/mufac/dedup/comparison.md
	$(MAKE) mufac-figures

# The real-MUFAC figures of results/mufac/figures/, redrawn from the committed results alone (no data needed; seconds);
# notebook 08 calls the same functions
mufac-figures: setup
	$(PY) -c "from gli_helpers import findings; findings.draw_all('results/mufac/figures')"

lab: setup
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf runs .pytest_cache
