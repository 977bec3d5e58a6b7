# Development tasks. Needs only python3 (with venv) and make; everything else goes in .venv.
#   make run     run the bot (reads .env; `make run ARGS=socket` for Socket Mode)
#   make test    run the tests (needs a Redis on TEST_REDIS_URL, and redis-server and redis-cli
#                for the Sentinel and Cluster tests; PYTEST_ARGS='-k foo -x')
#   make lint    ruff check, ruff format --check, mypy, and the import contracts (lint-imports)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --no-input
ARGS ?=
PYTEST_ARGS ?=

# The tests use this Redis (database 15, flushed by the tests); `make test` checks it answers.
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
export TEST_REDIS_URL

.PHONY: run test lint check-redis

# bin/pip, not bin/python: on Debian without python3-venv, `venv` fails after creating
# bin/python, and the next run must try again rather than use a venv without pip.
$(BIN)/pip:
	@$(PYTHON) -m venv $(VENV) || { \
	  echo "make: could not create $(VENV): on Debian/Ubuntu run 'apt-get install python3-venv'" >&2; \
	  exit 1; }

# Stamps: reinstall only when pyproject.toml changes (or .venv is deleted).
$(VENV)/.installed: pyproject.toml | $(BIN)/pip
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/pip
	$(PIP) install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	@test -f .env || echo "make: no .env here: copy .env.example to .env and fill it in (or export the variables)" >&2
	$(BIN)/vision-bot $(ARGS)

test: $(VENV)/.installed-dev check-redis
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Runs all four and fails if any failed, so one run shows every problem. The import contracts
# (pyproject.toml, [tool.importlinter]) keep the layout's layers and forbid import cycles.
lint: $(VENV)/.installed-dev
	@status=0; \
	echo "$(BIN)/ruff check ."; $(BIN)/ruff check . || status=1; \
	echo "$(BIN)/ruff format --check ."; $(BIN)/ruff format --check . || status=1; \
	echo "$(BIN)/mypy"; $(BIN)/mypy || status=1; \
	echo "$(BIN)/lint-imports"; $(BIN)/lint-imports --no-cache || status=1; \
	exit $$status

# Sends PING to the host in TEST_REDIS_URL with the standard library only (no redis-cli needed).
define REDIS_CHECK
import socket, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
where = sys.argv[1]
try:
    if url.scheme == "unix":
        where = url.path
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(2)
        sock.connect(url.path)
    else:
        host, port = url.hostname or "127.0.0.1", url.port or 6379
        where = f"{host}:{port}"
        sock = socket.create_connection((host, port), timeout=2)
    with sock:
        if url.scheme != "rediss":  # TLS: connecting is enough
            sock.sendall(b"PING\r\n")
            if sock.recv(64)[:1] not in (b"+", b"-"):
                raise OSError("not a Redis reply")
except (OSError, ValueError) as exc:
    sys.exit(
        f"make: no Redis answers on {where} ({exc}); start one with "
        "'redis-server --daemonize yes --save \"\" --appendonly no' "
        "(apt-get install redis-server) or 'docker run -d -p 6379:6379 redis:7', "
        "or set TEST_REDIS_URL"
    )
endef
export REDIS_CHECK

# The Sentinel and Cluster tests start their own redis-server processes and set them up with
# redis-cli (tests/redis_topologies.py). Without them only those tests fail: say why up front,
# and let the rest of the suite run.
REDIS_BINARIES_HINT := the Sentinel and Cluster tests (tests/test_redis_topologies.py) will \
  fail without them: apt-get install redis-server (or brew install redis), or skip those tests \
  with PYTEST_ARGS='--ignore=tests/test_redis_topologies.py'

check-redis:
	@$(PYTHON) -c "$$REDIS_CHECK" '$(TEST_REDIS_URL)'
	@missing=; for bin in redis-server redis-cli; do \
	  command -v $$bin >/dev/null 2>&1 || missing="$$missing $$bin"; done; \
	test -z "$$missing" || echo "make: not found:$$missing; $(REDIS_BINARIES_HINT)" >&2
