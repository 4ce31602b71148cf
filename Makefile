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
	@echo "make docs   - run the four notebooks and the solutions on the cpu preset, publish their HTML in docs/notebooks"
	@echo "              (reuses runs/docs' trained models while the code that makes them is unchanged; DOCS_FRESH=1: afresh)"

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

# The executed notebooks readable from the repository: a `cpu` run, its HTML pages and their one plotly.js.
# runs/docs (its data, trained models and result tables) is kept while DOCS_CODE, a hash of requirements.lock and of
# every gcl_nb module except those that only draw or export the notebooks, is unchanged: a notebook edit then
# re-renders without retraining (docs/ARCHITECTURE.md, "Rendering the notebooks"). DOCS_FRESH=1 starts afresh.
DOCS_CODE = $(shell find gcl_nb -name '*.py' -not -path 'gcl_nb/viz/*' -not -path 'gcl_nb/workbench/notebooks/*' \
	-not -name lessons.py -not -name exercises.py | LC_ALL=C sort | xargs cat requirements.lock | sha256sum | cut -c1-16)

docs: $(STAMP)
	if [ -n "$(DOCS_FRESH)" ] || [ "$$(cat runs/docs/code.sha256 2>/dev/null)" != "$(DOCS_CODE)" ]; then rm -rf runs/docs; fi
	mkdir -p runs/docs && echo "$(DOCS_CODE)" > runs/docs/code.sha256
	$(VENV)/bin/gcl-nb notebooks --preset cpu --out runs/docs --solutions
	rm -rf docs/notebooks && mkdir -p docs/notebooks
	cp runs/docs/*.html runs/docs/plotly-*.min.js docs/notebooks/

clean-venv:
	rm -rf $(VENV)
