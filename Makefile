# Two commands are all a new user needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint format bench notebooks clean mutants min-versions

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstalled only when pyproject.toml changes, so repeated runs reuse the venv.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m regjax.cli sweep --out demo_out

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -n 2 -q

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
	rm -rf $(VENV) .pytest_cache build dist

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
