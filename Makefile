# Two commands for a newcomer: `make run` and `make test`. Both create .venv and install first;
# `make test` also finds a browser for the browser tests, or installs one (scripts/browser.py).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo

.PHONY: run test lint bench clean bundle browser catalogs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	test -f $(DEMO)/registry.db || $(BIN)/anju demo $(DEMO) --households 2000
	$(BIN)/python scripts/run_demo.py $(DEMO)

browser: $(STAMP)
	@$(BIN)/python scripts/browser.py > $(VENV)/browser-path

test: browser
	$(BIN)/ruff check .
	ANJU_BROWSER="$$(cat $(VENV)/browser-path)" $(BIN)/pytest -q

# The offline install bundle for laptops (Linux, Windows, macOS): wheels + install scripts.
BUNDLE ?= dist/anju-bundle
bundle: $(STAMP)
	rm -rf $(BUNDLE)
	$(BIN)/anju bundle --out $(BUNDLE)

# Extract the UI messages, update the zh and en catalogs, compile them (scripts/catalogs.py).
catalogs: $(STAMP)
	$(BIN)/python scripts/catalogs.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .hypothesis
