# Two commands for a new machine: `make demo` and `make test`. Both create the
# virtualenv and install the project (editable) on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# What `make demo` needs: the project and its runtime dependencies, without the test
# and lint tools (most of the install's time); `make install`/`make test` add those.
CORE   := $(VENV)/.installed-core
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check \
	--config-settings editable_mode=strict
CHROMIUM := /usr/bin/chromium
# Editable installs link each module file (and the dashboard's templates): re-install when
# one is added or removed.
SOURCES := pyproject.toml $(shell find domain projections adapters -name '*.py' \
	-o -path '*/dashboard/templates/*' -o -path '*/dashboard/static/*' 2>/dev/null)

.PHONY: install browser bytecode demo test lint typecheck contracts unit bench screenshots clean

$(STAMP): $(SOURCES)
	@test -x $(BIN)/python || { echo "make: creating the virtualenv $(VENV)"; \
		$(PYTHON) -m venv $(VENV); }
	@echo "make: installing handoff-ledger with its test and lint tools into $(VENV)" \
		"(pip, a few minutes the first time)"
	$(PIP) -e '.[dev]'
	@touch $(STAMP) $(CORE)

$(CORE): $(SOURCES)
	@test -x $(BIN)/python || { echo "make: creating the virtualenv $(VENV)"; \
		$(PYTHON) -m venv $(VENV); }
	@echo "make: installing handoff-ledger and what it needs to run into $(VENV)" \
		"(pip, under a minute the first time; make test adds the test tools)"
	$(PIP) -e .
	@touch $(CORE)

install: $(STAMP)

demo: $(CORE)
	$(BIN)/handoff demo

# The full-size variants (marked soak) are left to bench/soak.py: make test runs their
# shortened twins (same assertions, fewer items), within about 10 minutes on 2 cores.
# mypy runs beside pytest (the tests leave part of the cores idle while they wait on the
# processes they start): its report is printed after theirs, and either failing fails.
test: install browser lint contracts bytecode
	@echo "make: typecheck runs beside the tests; its report follows theirs"
	@echo '$(BIN)/python -m pytest -n auto --dist loadfile -m "not soak"'
	@( { $(MYPY) && $(MYPY_STRICT); } > $(VENV)/typecheck.log 2>&1; \
	   echo $$? > $(VENV)/typecheck.status ) & \
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not soak"; tests=$$?; wait; \
	cat $(VENV)/typecheck.log; typed=$$(cat $(VENV)/typecheck.status); \
	if [ "$$typed" != 0 ]; then echo "make: typecheck failed"; fi; \
	[ "$$tests" = 0 ] && [ "$$typed" = 0 ]

# The tests start about a thousand processes that import the package (servers, loops, the
# CLI's warm interpreter): its bytecode is written once here, also where the environment
# says not to write any (PYTHONDONTWRITEBYTECODE), so that none of them compiles it again.
bytecode: install
	@$(BIN)/python -c "import compileall, sys, handoff_ledger; \
		sys.exit(not compileall.compile_dir(handoff_ledger.__path__[0], quiet=1))"

# The dashboard's browser tests drive Debian's Chromium through Playwright (which never
# downloads a browser): install the Debian package when it is missing (needs root).
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the dashboard's browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "warning: $(CHROMIUM) is missing and only root can install it:" \
	      "the browser tests skip (and fail under CI=true)"; \
	  fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

MYPY := $(BIN)/mypy -p handoff_ledger.domain -p handoff_ledger.projections \
	-p handoff_ledger.adapters
MYPY_STRICT := $(BIN)/mypy --strict --no-warn-unused-configs -p handoff_ledger.client \
	-p handoff_ledger.integrations

typecheck: install
	$(MYPY)
	$(MYPY_STRICT)

contracts: install
	$(BIN)/lint-imports

unit: install
	$(BIN)/python -m pytest tests/unit

bench: install
	$(BIN)/python bench/lifecycle.py

screenshots: install browser
	$(BIN)/python docs/dashboard/screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
