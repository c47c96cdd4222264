# polyroute: the two set-up commands of the README.
#   make run   install what is needed, then serve the gateway on the embedded default config
#   make test  install what is needed (incl. redis-server and postgresql for the shared-state tests), run the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all]'
	touch $(STAMP)

run: install
	$(BIN)/polyroute serve

test: install
	@bash .ci/install-system-deps
	$(BIN)/pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check src tests bench
