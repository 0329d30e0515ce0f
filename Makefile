# hanoinet — every target CI uses is here; `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: setup
setup: $(BIN)/.installed ## Create the virtualenv and install hanoinet with its dev tools

.PHONY: system-deps
system-deps: ## Install Debian's PostgreSQL, Chromium, Pango, Noto fonts and poppler-utils if missing
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
		echo "installing Debian's postgresql"; \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq postgresql >/dev/null; \
	fi
	@if [ -z "$$HANOINET_CHROMIUM" ] && ! command -v chromium >/dev/null; then \
		echo "installing Debian's chromium (for the browser tests)"; \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	fi
	@if ! command -v pdfsig >/dev/null || ! fc-list | grep -q "Noto Sans CJK" || ! ldconfig -p | grep -q libpangoft2; then \
		echo "installing Pango, the Noto fonts and poppler-utils (formal documents and their checks)"; \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq --no-install-recommends \
			libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-core fonts-noto-cjk poppler-utils >/dev/null; \
	fi

.PHONY: demo
demo: setup ## Start three nodes on loopback, play the Lotus scenario through them, run until Ctrl-C
	$(BIN)/hanoinet demo

.PHONY: run
run: setup ## Run one node on the embedded default (SQLite in the data directory); API docs at http://127.0.0.1:8000/docs
	$(BIN)/hanoinet init
	$(BIN)/hanoinet serve --host $(HOST) --port $(PORT)

.PHONY: test
test: setup system-deps ## Run every test: unit, integration on SQLite and PostgreSQL, end-to-end over HTTP, browser
	@# one worker per core; a file's tests stay on one worker, so its module-scoped nodes and databases are built once
	$(BIN)/pytest -q -n auto --dist loadfile

.PHONY: lint
lint: setup ## ruff (lint and format check) and mypy --strict
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

.PHONY: format
format: setup ## Format the code with ruff
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

.PHONY: bench
bench: setup system-deps ## Run the benchmarks and print their figures
	$(BIN)/python bench/requests.py --postgres
	$(BIN)/python bench/inbox.py --postgres
	$(BIN)/python bench/vault.py
	$(BIN)/python bench/federation.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/cli.py

LOCALE := src/hanoinet/locale

.PHONY: messages
messages: setup ## Extract the UI's strings (hanoinet.pot) and the rule packs' texts (packs.pot), merge into each .po
	@for domain in hanoinet packs; do \
		cfg=babel.cfg; [ $$domain = packs ] && cfg=babel-packs.cfg; \
		$(BIN)/pybabel --quiet extract -F $$cfg -o $(LOCALE)/$$domain.pot --project hanoinet \
			--version "$$($(BIN)/python -c 'import hanoinet; print(hanoinet.__version__)')" \
			--copyright-holder "the hanoinet contributors" --add-location=file --add-comments=Translators: . \
			|| exit 1; \
		for po in $(LOCALE)/*/LC_MESSAGES/$$domain.po; do [ -e "$$po" ] || continue; \
			lang=$$(basename $$(dirname $$(dirname $$po))); \
			$(BIN)/pybabel --quiet update -i $(LOCALE)/$$domain.pot -d $(LOCALE) -D $$domain -l $$lang \
				--ignore-pot-creation-date || exit 1; \
		done; \
	done

.PHONY: translations
translations: setup ## Compile the translated catalogues (.po) into the .mo files the node loads
	@for domain in hanoinet packs; do \
		if ls $(LOCALE)/*/LC_MESSAGES/$$domain.po >/dev/null 2>&1; then \
			$(BIN)/pybabel compile -d $(LOCALE) -D $$domain --statistics || exit 1; \
		fi; \
	done

.PHONY: clean
clean: ## Remove the virtualenv and caches (not your data directory)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
