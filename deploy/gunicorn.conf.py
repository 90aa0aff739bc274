"""gunicorn settings for the web container: ``gunicorn -c deploy/gunicorn.conf.py mlservice.wsgi``.

Several worker processes answer requests, so /metrics uses prometheus_client's
multiprocess mode: every process writes its HTTP metrics to files in
PROMETHEUS_MULTIPROC_DIR and a scrape adds them all up. The folder is emptied when
gunicorn starts (files of an earlier run would otherwise be counted again)."""

import os
import shutil
from pathlib import Path

# Must be set before prometheus_client is first imported, here or in a worker.
multiprocess_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/mlservice-prometheus"))

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core: a process's threads share one CPU's worth of Python anyway.
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(2, os.cpu_count() or 1))))
# Threads let a process keep serving while requests sleep in `Prefer: wait` for their
# job to finish (a sleeping thread costs no CPU). Each process lets threads − 1 of them
# wait (PREFER_WAIT_MAX_PER_PROCESS) and a keep-alive client stays on one process, so
# with 4 threads 8 busy clients met 202s wherever 4 of them shared a process (issue
# 18). Set in the environment so that the settings of the workers read the same value.
threads = int(os.environ.setdefault("GUNICORN_THREADS", "16"))
# Uploads stream to disk and a `Prefer: wait` lasts at most 60 s, so a request that
# takes longer than this is stuck.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# The service writes its own JSON line per request (without query strings, which can
# carry secrets): gunicorn's access log stays off. Errors go to stderr.
accesslog = None
errorlog = "-"
# Workers restart after this many requests (a guard against slow memory growth); their
# counts stay in the multiprocess files.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# gunicorn's control socket (for `gunicornc`) defaults to one path per user
# (~/.gunicorn/gunicorn.ctl), which two instances on one host would share; it is off
# unless GUNICORN_CONTROL_SOCKET names a path of this instance's own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
if not control_socket:
    del control_socket


def on_starting(server):
    shutil.rmtree(multiprocess_dir, ignore_errors=True)
    multiprocess_dir.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
