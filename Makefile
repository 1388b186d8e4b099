# Two commands are all a new user needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint format bench notebooks docs docs-site clean mutants min-versions

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstalled only when pyproject.toml changes, so repeated runs reuse the venv.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

demo: $(STAMP)
	$(PY) -m regjax.cli sweep --out demo_out

# The suite (docstring examples and notebooks included), then the documentation
# site, which renders the notebooks the suite just executed.
test: $(STAMP)
	$(PY) -m pytest -m "not slow" -n 2 -q
	$(MAKE) --no-print-directory docs-site

test-all: $(STAMP)
	$(PY) -m pytest -n 2 -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache build dist docs/_build docs/examples notebooks/_executed

# The site in docs/_build/html, warnings as errors: nitpicky cross-references,
# executed guides, the notebooks (make notebooks' full-size outputs, else the
# test suite's, else executed here at smoke size), checked math, then an offline
# check of every internal link and of an API entry for every public name.
# `make docs` also runs the docstrings' examples; `make test` runs them in the
# suite and then builds the site alone (docs-site).
SPHINX := $(PY) -m sphinx -W --keep-going -n -q -j 2 -d docs/_build/doctrees
docs: $(DOCS_STAMP)
	$(PY) -m pytest -q -n 2 regjax
	$(MAKE) --no-print-directory docs-site

docs-site: $(DOCS_STAMP)
	rm -rf docs/_build
	$(SPHINX) -b html docs docs/_build/html
	$(PY) tools/check_docs.py docs/_build/html

notebooks: $(STAMP)
	$(PY) notebooks/_execute.py

# Mutation testing (mutmut) of the numerical cores; slow, not part of `make test`.
# A subset: make mutants MODULES="regjax/_prox.py regjax/_sam.py"; named functions or
# mutants of one module: MODULES="regjax/_sam.py:x_sam,x_sam__mutmut_3". See MUTANTS.md.
MODULES ?=
mutants: $(STAMP)
	$(PY) -m pip install --quiet -e ".[mutants]"
	$(PY) tools/mutants.py $(MODULES)

# Every direct dependency at its declared floor (uv's lowest-direct resolution),
# in a separate venv under /tmp; then the non-slow suite. See tools/check_min_versions.sh.
min-versions:
	bash tools/check_min_versions.sh
