# Two commands do everything: `make run` (the workbench end to end on the embedded default) and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PRESET ?= cpu
OUT    ?= runs/default
STAMP  := $(VENV)/.installed-lock

.PHONY: run test test-fast lab bench data docs clean-venv help

help:
	@echo "make run    - build the venv if missing, run the four notebooks on SynthShop ($(PRESET) preset) into $(OUT)"
	@echo "make test   - build the venv if missing, run the test suite (notebooks included)"
	@echo "make lab    - JupyterLab on notebooks/ with this project's environment"
	@echo "make bench  - speed/memory benchmarks, table written to benchmarks/results.md"
	@echo "make data   - generate SynthShop ($(PRESET) preset) into data/synthshop-$(PRESET)"
	@echo "make docs   - run the four notebooks on the cpu preset and publish their HTML in docs/notebooks"

$(STAMP): requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e ".[workbench,test,lint]"  # the lock holds every extra
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/gcl-nb notebooks --preset $(PRESET) --out $(OUT)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

lab: $(STAMP)
	$(PY) -m ipykernel install --user --name gcl-nb --display-name "Python (gcl-nb)"
	$(VENV)/bin/jupyter lab notebooks/

bench: $(STAMP)
	$(PY) -m benchmarks

data: $(STAMP)
	$(VENV)/bin/gcl-nb make-data --preset $(PRESET) --out data/synthshop-$(PRESET)

# The executed notebooks readable from the repository: a fresh `cpu` run, its HTML pages and their one plotly.js.
docs: $(STAMP)
	rm -rf runs/docs
	$(VENV)/bin/gcl-nb notebooks --preset cpu --out runs/docs
	rm -rf docs/notebooks && mkdir -p docs/notebooks
	cp runs/docs/*.html runs/docs/plotly-*.min.js docs/notebooks/

clean-venv:
	rm -rf $(VENV)
