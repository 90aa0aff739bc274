"""Production mode: every command README's "Running in production" documents works
against PostgreSQL and Redis with DEBUG off, and the running server behaves as it must
behind a TLS proxy."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import BASE_DIR, wait_for
from tests.reliability.client import Http
from tests.reliability.harness import METRICS_TOKEN

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.redis]


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_documented_commands_work_on_postgres_and_redis_with_debug_off(
    transactional_db, prod_env, collected_static, figures
):
    from django_q.models import Schedule

    check = manage("check", "--deploy", "--fail-level", "WARNING", env=prod_env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "System check identified no issues" in check.stdout

    migrate = manage("migrate", "--noinput", env=prod_env)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert "No migrations to apply" in migrate.stdout

    # Run on every deploy: the second run updates, never duplicates.
    for _ in range(2):
        schedules = manage("setup_schedules", env=prod_env)
        assert schedules.returncode == 0, schedules.stdout + schedules.stderr
    assert Schedule.objects.filter(name="sweep-stuck-jobs").count() == 1

    # Redis is the cache: nothing needs createcachetable.
    cache = manage(
        "shell",
        "-c",
        "from django.core.cache import caches; cache = caches['default'];"
        "cache.set('reliability-probe', 42, 10); print(type(cache).__name__, cache.get('reliability-probe'))",
        env=prod_env,
    )
    assert cache.returncode == 0, cache.stderr
    assert cache.stdout.strip().splitlines()[-1].split() == ["RedisCache", "42"]

    audit = manage("billing_audit", env=prod_env)
    assert audit.returncode == 0, audit.stdout + audit.stderr

    assert (BASE_DIR / "staticfiles" / "staticfiles.json").exists()
    figures["collectstatic_seconds"] = round(collected_static, 1)
    figures["deploy_check"] = check.stdout.strip()


def test_the_server_behaves_as_production_behind_a_tls_proxy(live, start_cluster, make_user, figures):
    http: Http = live.http
    figures["gunicorn_start_seconds"] = live.start_seconds

    # Plain HTTP that did not come through the proxy is sent to HTTPS ...
    redirected = http.get("/api/v1/me/", proxy=False)
    assert redirected.status == 301
    assert redirected.headers["location"].startswith("https://127.0.0.1")
    # ... and through the proxy the answers carry HSTS and secure cookies.
    _, token = make_user("prod")
    me = http.get("/api/v1/me/", token=token)
    assert me.status == 200, me.describe()
    assert "max-age=31536000" in me.headers.get("strict-transport-security", "")
    login_page = http.get("/accounts/login/")
    assert login_page.status == 200, login_page.describe()
    assert "secure" in login_page.headers.get("set-cookie", "").lower()
    # Static files come from whitenoise with the hashed names collectstatic wrote.
    assert b"/static/" in login_page.body
    stylesheet = login_page.body.split(b'href="/static/', 1)[1].split(b'"', 1)[0].decode()
    assert http.get(f"/static/{stylesheet}").status == 200
    # Swagger UI starts from a script file (the split view): the Content-Security-Policy
    # runs only scripts of this site, and it is on every answer.
    docs = http.get("/api/docs/", headers={"Accept": "text/html"})
    assert docs.status == 200
    assert "script-src 'self';" in docs.headers.get("content-security-policy", "")
    assert "script-src 'self';" in login_page.headers.get("content-security-policy", "")
    assert http.get("/api/docs/?script=", headers={"Accept": "*/*"}).status == 200

    # DEBUG is off: no debug pages, JSON errors under /api/, unknown hosts refused.
    missing = http.get("/api/v1/no-such-thing/", token=token)
    assert missing.status == 404 and missing.is_json and missing.detail
    page = http.get("/no-such-page/")
    assert page.status == 404 and b"Traceback" not in page.body and b"DEBUG" not in page.body
    wrong_host = http.get("/api/v1/me/", token=token, headers={"Host": "evil.example.com"})
    assert wrong_host.status == 400

    # /healthz answers plain HTTP (probes inside the network) and sees the cluster.
    start_cluster(workers=1)

    def healthy():
        answer = http.get("/healthz", proxy=False)
        return answer if answer.status == 200 else None

    health = wait_for(healthy, timeout=30, what="/healthz to report the cluster")
    # /metrics wants the token, even from loopback: through the proxy every client is
    # 127.0.0.1. With it, the numbers add up the gunicorn workers.
    for proxy in (True, False):
        refused = http.get("/metrics", proxy=proxy, headers={"Accept": "text/plain"})
        assert refused.status == 401 and b"mlservice_" not in refused.body
    metrics = http.get(
        "/metrics",
        proxy=False,
        headers={"Accept": "text/plain", "Authorization": f"Bearer {METRICS_TOKEN}"},
    )
    assert metrics.status == 200 and b"mlservice_http_requests_total" in metrics.body
    figures["healthz"] = health.data


def test_an_operator_made_with_createsuperuser_can_use_the_service(live, prod_env, figures):
    """The README (and deploy/README.md) tell operators to run createsuperuser: that
    account must work like any other, coins included."""
    from django.test import Client

    from accounts.models import User
    from accounts.services import token_for_user

    created = manage(
        "createsuperuser",
        "--noinput",
        "--username",
        "operator",
        "--email",
        "operator@example.com",
        env={**prod_env, "DJANGO_SUPERUSER_PASSWORD": "an-operator-passphrase-42"},
    )
    assert created.returncode == 0, created.stdout + created.stderr
    operator = User.objects.get(username="operator")
    token = token_for_user(user=operator).key
    http: Http = live.http
    balance = http.get("/api/v1/billing/balance/", token=token)
    assert balance.status == 200, balance.describe()
    topup = http.post("/api/v1/billing/topup/", token=token, json_body={"amount": "5.00"})
    assert topup.status == 201, topup.describe()
    browser = Client()
    browser.force_login(operator)
    assert browser.get("/dashboard/").status_code == 200
    figures["operator_balance"] = balance.data["balance"]
