# mlts — the two commands: `make demo` and `make test`. Both create .venv and install first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo test browser lock clean bench

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

# The local stack (MongoDB, MLflow and Prefect servers with their UIs, the API) stays up after the
# demo: `mlts status` shows it, `mlts down` stops it.
demo: install
	$(BIN)/mlts up
	$(BIN)/mlts demo

test: install browser
	$(BIN)/python -m pytest

# Headless Chromium for the tests that open pages (the monitoring report, /docs offline), from
# Debian's packages; where it cannot be installed those tests are skipped and say why.
browser:
	@command -v chromium >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) \
		|| echo "chromium not installed: the browser tests will be skipped"; }

# Re-pin every dependency after changing pyproject.toml (needs the package index).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade setuptools ".[dev]"
	.lock-venv/bin/python -m pip freeze --all --exclude-editable --disable-pip-version-check \
		| grep -v -E '^(mlts[= @]|pip==)' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .mlts .pytest_cache

# Benchmarks against mlflow models serve, a bare Starlette app, lstsq, bare pymongo and statsforecast;
# writes bench/results.md. The online rows load the servers with wrk (Debian's package, installed here
# when missing); the accuracy rows need statsforecast, a bench-only dependency installed here.
bench: install
	@$(BIN)/python -c "import statsforecast" 2>/dev/null || $(BIN)/python -m pip install --quiet \
		--disable-pip-version-check -c requirements.lock statsforecast \
		|| echo "statsforecast not installed: the accuracy rows will say so"
	@command -v wrk >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& (apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)) \
		|| echo "wrk not installed: the online benchmark uses its asyncio load generator"; }
	$(BIN)/python -m bench.run
