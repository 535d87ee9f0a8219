# aauth-kit — two commands: `make lab` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

LAB_STAMP := $(VENV)/.lab-installed
BENCH_STAMP := $(VENV)/.bench-installed
DOCS_STAMP := $(VENV)/.docs-installed
GRADE_STAMP := $(VENV)/.grade-installed

.PHONY: lab test lint notebooks bench docs assignments install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# the lab needs only the kit, JupyterLab and ipywidgets (not the test tool chain)
$(LAB_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[lab]'
	touch $(LAB_STAMP)

# extra JupyterLab options: make lab LAB_ARGS="--ip 0.0.0.0 --no-browser"
LAB_ARGS ?=
lab: $(LAB_STAMP)
	scripts/start-lab $(LAB_ARGS)

# re-run every notebook in docs mode and store its outputs (nbval compares them in `make test`)
notebooks: $(STAMP)
	$(PY) scripts/build_notebooks.py $(NB)

# binder/requirements.txt: every package Binder installs, resolved anew from pyproject.toml
# (needs the package index; tests/test_binder.py checks the result offline)
.PHONY: pins
pins: $(STAMP)
	$(PY) scripts/pin_binder.py

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(BENCH_STAMP)

# ratio benchmarks: print the table, write bench-results.json (BENCH_QUICK=1: a pass under two minutes)
bench: $(BENCH_STAMP)
	$(PY) -m benchmarks

# the site needs only the kit and its documentation tools (Sphinx, myst-nb, the book theme)
$(DOCS_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[docs]'
	touch $(DOCS_STAMP)

# the lessons as a static site in _build/site/, from the committed notebooks (nothing is executed)
docs: $(DOCS_STAMP)
	$(PY) scripts/build_site.py

# nbgrader and the kit (the [grade] extra), for building and grading assignments
$(GRADE_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[grade]'
	touch $(GRADE_STAMP)

# nbgrader source notebooks in _build/assignments/ (an nbgrader course folder; see docs/teaching.md)
assignments: $(GRADE_STAMP)
	$(PY) scripts/build_assignments.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(STAMP) lint
	scripts/install-browser
	scripts/install-node-peer
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis _build
