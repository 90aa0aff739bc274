"""Fixtures of the reliability suite: the service in production mode on the test
database, PostgreSQL and Redis. Every test here is skipped, with the reason, unless
DATABASE_URL points at PostgreSQL and REDIS_URL is set (CI runs the suite on both).

The web server is started once per session (gunicorn, DEBUG off); qcluster processes
are started per test, since several tests kill or starve them. All of them share one
MEDIA_ROOT, one SECRET_KEY (django-q signs its tasks with it) and a queue name of
their own, so another test run on the same Redis never takes our tasks."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import BASE_DIR, PASSWORD, Worker
from tests.reliability.figures import Figures
from tests.reliability.harness import (
    ProductionServer,
    production_env,
    stop_clusters,
    why_not_runnable,
)

RELIABILITY_DIR = Path(__file__).resolve().parent
QUEUE_NAME = f"reliability-{os.getpid()}"
LOGS_DIR = BASE_DIR / "var" / "reliability" / "logs"
if TYPE_CHECKING:
    from mlmodels.models import TrainedModel

_names = itertools.count(1)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "reliability: needs PostgreSQL and Redis; starts gunicorn and qcluster processes"
    )


def pytest_collection_modifyitems(config, items):
    reason = why_not_runnable()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(RELIABILITY_DIR):
            item.add_marker(skip)


# --- Session: the web server --------------------------------------------------------------


@pytest.fixture(scope="session")
def reliability_media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reliability-media")


@pytest.fixture(scope="session")
def prod_env(django_db_setup, reliability_media) -> dict[str, str]:
    from django.conf import settings

    # The test process enqueues too (the sweep), so it must sign tasks with the same key.
    return production_env(secret_key=settings.SECRET_KEY, queue_name=QUEUE_NAME, media_root=reliability_media)


@pytest.fixture(scope="session")
def collected_static(prod_env) -> float:
    """``manage.py collectstatic`` as a deployment runs it: with DEBUG off the pages
    need the manifest it writes. Returns the seconds it took."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=BASE_DIR,
        env={**os.environ, **prod_env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return time.monotonic() - started


@pytest.fixture(scope="session")
def logs_dir() -> Path:
    """Logs of the processes the suite starts, kept after the run (var/ is ignored)."""
    LOGS_DIR.mkdir(parents=True, exist_ok=True)
    for old in LOGS_DIR.glob("*.log"):
        old.unlink()
    for old in LOGS_DIR.glob("prometheus-*"):
        shutil.rmtree(old, ignore_errors=True)
    return LOGS_DIR


@pytest.fixture(scope="session")
def server(prod_env, collected_static, logs_dir):
    """gunicorn with DEBUG off, for the whole session; stopped before the test
    database is dropped (it holds connections to it)."""
    started = time.monotonic()
    web = ProductionServer(env=prod_env, log_path=logs_dir / "gunicorn.log")
    web.start_seconds = round(time.monotonic() - started, 2)
    yield web
    web.stop()


# --- Per test -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _production_like(settings, _media_root, reliability_media, monkeypatch):
    """The test process sees what the server and workers see: their MEDIA_ROOT and
    their queue (django-q reads its queue name once, at import)."""
    from django_q.conf import Conf

    settings.MEDIA_ROOT = reliability_media
    monkeypatch.setattr(Conf, "PREFIX", QUEUE_NAME)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", QUEUE_NAME)
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "name": QUEUE_NAME}


@pytest.fixture
def live(transactional_db, server):
    """The session's server, with this test's rows committed where it can see them."""
    return server


@pytest.fixture
def start_cluster(transactional_db, prod_env, logs_dir, request):
    """``start_cluster(workers=2, **env)``: a real ``manage.py qcluster`` in production
    mode on the test database and our queue. Stopped at the end of the test."""
    from django_q.brokers import get_broker

    get_broker().purge_queue()
    started: list[Worker] = []

    def start(*, workers: int = 2, wait: bool = True, **extra_env: str) -> Worker:
        worker = Worker(
            workers=workers,
            log_path=logs_dir / f"qcluster-{request.node.name[:60]}-{len(started) + 1}.log",
            extra_env={**prod_env, **extra_env},
        )
        started.append(worker)
        if wait:
            worker.wait_ready(timeout=90)
        return worker

    yield start
    stop_clusters(started)


@pytest.fixture
def figures(request):
    """``figures["key"] = value``: saved under the test's name in the figures file."""
    recorded = Figures(section=request.node.name)
    started = time.monotonic()
    yield recorded
    recorded["test_seconds"] = round(time.monotonic() - started, 2)
    recorded.save()


# --- Users and models ---------------------------------------------------------------------


@pytest.fixture
def make_user(transactional_db):
    """``make_user("carol")`` → (user, token key): a user with the signup bonus
    (500.00 coins) and an API token."""
    from accounts.services import token_for_user, user_register

    def make(prefix: str = "user", *, is_staff: bool = False):
        user = user_register(
            username=f"{prefix}{next(_names)}", password=PASSWORD, email=f"{prefix}@example.com"
        )
        if is_staff:
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        return user, token_for_user(user=user).key

    return make


@pytest.fixture
def make_model(reliability_media):
    """``make_model(owner=user, price_per_row=Decimal("0.05"))``: a ready, active
    classifier (age, income, color, member → yes/no) whose artifact sits in the shared
    MEDIA_ROOT, trained with the real engine (once per session)."""
    from tests.predictions.conftest import register_model

    def make(*, owner, task: str = "classification", **fields) -> TrainedModel:
        return register_model(
            media_root=reliability_media,
            owner=owner,
            task=task,
            prefix="reliability",
            **fields,
        )

    return make
