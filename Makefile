# One-command set-up: `make run` and `make test` create/refresh .venv as needed.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYSSTAMP := $(VENV)/.system-packages

.PHONY: run test lint bench bundle bundle-smoke wheelhouse wheelhouse-check check-gpu sbom screenshots clean venv

# The venv is stale when pyproject.toml changes or when its interpreter is gone.
$(STAMP): pyproject.toml
	@if [ ! -x $(PY) ] || ! $(PY) -c 'import sys' >/dev/null 2>&1; then \
		rm -rf $(VENV); $(PYTHON) -m venv $(VENV); fi
	$(PY) -m pip install -q --upgrade pip==25.3
	$(PY) -m pip install -q -e '.[train,dev]'
	$(PY) -m pip check
	@touch $(STAMP)

# System tools that the tests use (pdftoppm for PDF checks, xvfb for screenshots,
# libs that Qt needs beyond offscreen); installed only when missing.
$(SYSSTAMP):
	@bash installers/system-packages.sh
	@mkdir -p $(VENV) && touch $(SYSSTAMP)

# A venv whose interpreter or install broke is rebuilt even if pyproject.toml did not change.
venv:
	@$(PY) -c 'import desktop_app, onnxruntime' >/dev/null 2>&1 || rm -f $(STAMP)
	@$(MAKE) --no-print-directory $(STAMP) $(SYSSTAMP)

run: venv
	$(VENV)/bin/dermscreen $(ARGS)

test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: venv
	$(PY) bench/preprocess.py
	$(PY) bench/batch.py
	$(PY) bench/startup.py

screenshots: venv
	$(PY) docs/make_screenshots.py
	$(PY) docs/make_report_pages.py

bundle: venv
	bash installers/build_bundle.sh

bundle-smoke: bundle
	bash installers/smoke_bundle.sh

wheelhouse:
	bash installers/make_wheelhouse.sh

wheelhouse-check:
	bash installers/check_wheelhouse_install.sh

check-gpu: venv
	$(PY) installers/check_gpu.py $(ARGS)

sbom:
	bash installers/build_bundle.sh --sbom-only

clean:
	rm -rf $(VENV) build dist .pytest_cache installers/dist installers/wheelhouse
