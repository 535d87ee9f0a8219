# aauth-kit — two commands: `make lab` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

LAB_STAMP := $(VENV)/.lab-installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: lab test notebooks bench install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

$(LAB_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,lab]'
	touch $(LAB_STAMP)

lab: $(LAB_STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

# re-run every notebook in docs mode and store its outputs (nbval compares them in `make test`)
notebooks: $(STAMP)
	$(PY) scripts/build_notebooks.py $(NB)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(BENCH_STAMP)

# ratio benchmarks: print the table, write bench-results.json (BENCH_QUICK=1: a pass under two minutes)
bench: $(BENCH_STAMP)
	$(PY) -m benchmarks

test: $(STAMP)
	scripts/install-browser
	scripts/install-node-peer
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
