# polyroute: the two set-up commands of the README.
#   make run   install the lean base (no torch), then serve the gateway on the embedded default config
#   make test  install everything (incl. redis-server, postgresql), run format/lint/type checks and the tests,
#              then the gateway tests again in the lean venv (base install + test tools only)
# Both install the exact versions of requirements/constraints.txt.
PYTHON      ?= python3
VENV        ?= .venv
LEAN        ?= .venv-lean
CONSTRAINTS := requirements/constraints.txt
BIN         := $(VENV)/bin
PIP_FLAGS   := --quiet --disable-pip-version-check -c $(CONSTRAINTS)
SOURCES     := pyproject.toml $(CONSTRAINTS) $(shell find src -type f -not -name '*.pyc' 2>/dev/null)

.PHONY: run test install lean lint typecheck pytest lean-test constraints

install: $(VENV)/.installed
lean: $(LEAN)/.installed

# the development venv: editable install with every extra
$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) -e '.[all]'
	touch $@

# the lean venv: a regular (non-editable) install of the base + the test tools, so that its tests
# also check that the package data (the shipped router and encoder table) is installed
$(LEAN)/.installed: $(SOURCES)
	$(PYTHON) -m venv $(LEAN)
	$(LEAN)/bin/pip uninstall --quiet --yes polyroute
	$(LEAN)/bin/pip install $(PIP_FLAGS) '.[test]'
	touch $@

run: lean
	$(LEAN)/bin/polyroute serve

test: lint typecheck pytest lean-test

lint: install
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

typecheck: install
	$(BIN)/mypy

pytest: install
	@bash .ci/install-system-deps
	$(BIN)/pytest -q -p no:cacheprovider -n 2

# the gateway tests and the lean-install checks, run against the lean venv's installed package
lean-test: lean
	POLYROUTE_LEAN_INSTALL=1 $(LEAN)/bin/pytest -q -p no:cacheprovider -n 2 tests/server tests/lean

# rewrite the lock from a fresh venv with every extra (run after changing dependencies)
constraints:
	rm -rf /tmp/polyroute-lock && $(PYTHON) -m venv /tmp/polyroute-lock
	/tmp/polyroute-lock/bin/pip install --quiet --disable-pip-version-check '.[all]'
	{ echo "# Exact versions CI and make install (pip install -c). Regenerate: make constraints"; \
	  /tmp/polyroute-lock/bin/pip freeze --exclude-editable | grep -iv '^polyroute' \
	  | sed 's/+cpu$$//'; } > $(CONSTRAINTS)
