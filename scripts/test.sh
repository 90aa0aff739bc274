#!/usr/bin/env bash
# Run every test. Installs what it needs first. Extra arguments go to pytest.
# PostgreSQL/Redis: set DATABASE_URL and REDIS_URL to run the suite against them.
source "$(dirname "$0")/_env.sh"
ensure_venv requirements-dev.txt
# MLflow, for the tests that serve an exported model and track runs with it (its own
# virtualenv: its pins conflict with the service's).
ensure_venv requirements-mlflow.txt .venv-mlflow
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "NOTE: Chromium not found at ${CHROMIUM_PATH:-/usr/bin/chromium}: the end-to-end browser tests"
  echo "      in tests/e2e/ will be SKIPPED. Install it with: apt-get install -y chromium"
fi
exec .venv/bin/python -m pytest "$@"
