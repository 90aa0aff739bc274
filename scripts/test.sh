#!/usr/bin/env bash
# Run every test. Installs what it needs first. Extra arguments go to pytest.
# PostgreSQL/Redis: set DATABASE_URL and REDIS_URL to run the suite against them.
source "$(dirname "$0")/_env.sh"
ensure_venv requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
