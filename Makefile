# The README's two commands: `make demo` (the main job) and `make test` (the whole suite).
# Both create the virtual environment on a fresh machine first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint bench clean

venv: $(STAMP)

# torch==2.13.0 first: it is the CPU build on these machines; an unpinned torch pulled in
# later by another package would otherwise download GBs of CUDA wheels.
$(STAMP): pyproject.toml setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip "setuptools>=68" wheel
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e ".[test]"
	touch $(STAMP)

demo: venv
	$(VENV)/bin/gre tools call gazetteer.geocode --offline --args '{"query": "Gothenburg", "limit": 3}'

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest

bench: venv
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
