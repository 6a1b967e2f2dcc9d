# `make run` and `make test` work on a fresh machine: they create .venv and install first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed" or 0)'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

# The production server (gunicorn, as docs/deploy.md runs it); `python wsgi.py` is the development one.
run: $(STAMP)
	$(PY) -m gunicorn -c python:webapp.web.server wsgi:app

# Two pytest-xdist workers: the suite waits on servers and browsers about a third of the time, so a
# second worker fills 2 cores. Each test file stays on one worker (tests/conftest.py groups them), in
# collection order (browser/ and integration/, the slow ones, first), not by how many tests a file has.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

bench: $(STAMP)
	$(PY) bench/check_latency.py
	$(PY) bench/runs.py
	$(PY) bench/gallery.py
	$(PY) bench/inside.py
	$(PY) bench/dynamics.py
	$(PY) bench/viewers.py
	$(PY) bench/sweeps.py

clean:
	rm -rf $(VENV) instance .pytest_cache
