# Two commands are all a new user needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint format bench notebooks docs clean mutants min-versions

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

# The suite, then the documentation site (its guides and notebooks executed,
# its docstring examples and links checked).
test: $(STAMP)
	$(PY) -m pytest -m "not slow" -n 2 -q
	$(MAKE) --no-print-directory docs

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
	rm -rf $(VENV) .pytest_cache build dist docs/_build docs/examples

# The site in docs/_build/html, warnings as errors: nitpicky cross-references,
# executed guides and notebooks (full-size outputs where `make notebooks` left
# them, else run at smoke size), the docstrings' examples (doctest builder on
# the same doctrees, so nothing runs twice), checked math, then an offline check
# of every internal link and of an API entry for every public name.
SPHINX := $(PY) -m sphinx -W --keep-going -n -q -d docs/_build/doctrees
docs: $(DOCS_STAMP)
	rm -rf docs/_build
	$(SPHINX) -b html docs docs/_build/html
	$(SPHINX) -b doctest docs docs/_build/doctest
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
