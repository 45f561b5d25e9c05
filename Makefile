# Two commands for a fresh clone: `make run` (demo on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean screenshots

PORT ?= 8000
LOG := $(VENV)/install.log

# pip's own output goes to .venv/install.log; the terminal shows one line with a dot per package.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@printf 'Installing chonaikai into .venv (log: $(LOG)) '
	@{ $(BIN)/python -m pip install --upgrade pip && $(BIN)/python -m pip install -e '.[dev]'; \
	   echo $$? > $(VENV)/install.rc; } 2>&1 | tee $(LOG) | awk '/^Collecting /{ printf "."; fflush() }'
	@test "$$(cat $(VENV)/install.rc)" = 0 || { echo; echo "Install failed. The end of $(LOG):"; tail -n 25 $(LOG); exit 1; }
	@echo ' done'
	@touch $@

# The demo: web server, a delivery worker, the fake LINE server and a mail catcher (/dev/mail).
run: $(STAMP)
	@$(BIN)/chonaikai demo --port $(PORT)

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
