#!/usr/bin/env bash
# Set everything up and run the service: web on http://127.0.0.1:8000 plus a qcluster
# worker, on SQLite with the ORM broker, with demo users and demo models.
source "$(dirname "$0")/_env.sh"
ensure_venv requirements.txt

export DEBUG="${DEBUG:-1}"
PORT="${PORT:-8000}"
PY=.venv/bin/python

echo "==> preparing the database"
$PY manage.py migrate --noinput -v0
$PY manage.py createcachetable
$PY manage.py setup_schedules
echo "==> demo data (users, datasets, trained models; takes a little while the first time)"
$PY manage.py seed_demo

LOG_DIR="${VAR_DIR:-var}/log"
mkdir -p "$LOG_DIR"
$PY manage.py qcluster >> "$LOG_DIR/qcluster.log" 2>&1 &
WORKER_PID=$!
cleanup() { kill "$WORKER_PID" 2>/dev/null || true; wait "$WORKER_PID" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

cat <<BANNER

  mlservice is running on  http://127.0.0.1:${PORT}/
    demo user:   demo  / demo-password-123
    operator:    admin / admin-password-123   (admin at http://127.0.0.1:${PORT}/admin/)
    API docs:    http://127.0.0.1:${PORT}/api/docs/
  worker log: $LOG_DIR/qcluster.log — press Ctrl-C to stop both.

BANNER
$PY manage.py runserver "127.0.0.1:${PORT}" --noreload
