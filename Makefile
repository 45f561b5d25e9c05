# Two commands for a fresh clone: `make run` (demo on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean screenshots

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(BIN)/chonaikai demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Phone screenshots for the README from the demo data (needs chromium: apt-get install -y chromium fonts-noto-cjk).
screenshots: $(STAMP)
	$(BIN)/python -m tests.browser.make_screenshots

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var/*.sqlite3* .pytest_cache
