"""End-to-end fixtures: a real web server process and a real qcluster on the test
database, and Playwright driving Debian's Chromium. A page fails its test on any
JavaScript console error, any failed request, and any request that leaves 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import urlopen

import pytest

from tests.conftest import BASE_DIR, database_url_for_subprocess, wait_for

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = BASE_DIR / "tests" / "e2e" / "screenshots"


# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are plain synchronous code, which Django would otherwise refuse.
# Only for the browser tests, and only while each runs: a process-wide setting would
# leak into every subprocess other tests start (check --deploy rightly refuses it).
@pytest.fixture(autouse=True)
def _allow_orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    missing = None
    if not Path(CHROMIUM).exists():
        missing = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            missing = "Playwright for Python is not installed"
    if missing is None:
        return
    if os.environ.get("E2E_REQUIRED"):
        raise pytest.UsageError(f"end-to-end tests required but cannot run: {missing}")
    skip = pytest.mark.skip(reason=f"end-to-end tests skipped: {missing}")
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.report_call = report
    return report


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, log_path: Path):
        from django.conf import settings

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url_for_subprocess(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "DEBUG": "1",
            "PYTHONUNBUFFERED": "1",
        }
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.log_path = log_path
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "mlservice.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "120",
                "--access-logfile",
                "-",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def up():
            if self.process.poll() is not None:
                pytest.fail(f"web server exited:\n{log_path.read_text()[-3000:]}")
            try:
                return urlopen(self.url + "/accounts/login/", timeout=2).status == 200
            except OSError:
                return False

        wait_for(up, timeout=60, what="the web server")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
        self._log.close()


@pytest.fixture(autouse=True)
def _fast_password_hasher():
    """Overrides the root conftest's MD5 shortcut: users the tests create log in through
    the web server, which only knows the project's own password hashers."""


@pytest.fixture
def live(start_worker, tmp_path, settings):
    """A real server (gunicorn) and a real worker on the test database."""
    start_worker(workers=2)
    server = Server(tmp_path / "web.log")
    yield server
    server.stop()


# Per test, not per session: a running Playwright keeps an event loop in this thread,
# and the database tests collected after these would then be refused as "async".
@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


class PageProblems:
    """Everything a page did wrong while a test drove it."""

    def __init__(self):
        self.items: list[str] = []

    def watch(self, page, *, allowed_failures: tuple[str, ...] = ()):
        def on_console(message):
            if message.type != "error":
                return
            # Chromium also logs each ≥ 400 answer as a console error; an expected one
            # (allowed_failures) is not a problem.
            source = (message.location or {}).get("url", "")
            if message.text.startswith("Failed to load resource") and any(
                part in source for part in allowed_failures
            ):
                return
            self.items.append(f"console error: {message.text} ({source})")

        def on_request(request):
            host = urlparse(request.url).hostname
            if request.url.startswith(("data:", "blob:", "about:")):
                return
            if host not in ("127.0.0.1",):
                self.items.append(f"request left 127.0.0.1: {request.url}")

        def on_failed(request):
            # A page's background poll (htmx, GET) that a navigation or a swap cut short
            # is aborted by the browser itself; a person never sees it.
            if (
                request.failure == "net::ERR_ABORTED"
                and request.method == "GET"
                and request.headers.get("hx-request") == "true"
            ):
                return
            if not any(part in request.url for part in allowed_failures):
                self.items.append(f"request failed: {request.method} {request.url} ({request.failure})")

        def on_response(response):
            if response.status >= 400 and not any(part in response.url for part in allowed_failures):
                self.items.append(f"HTTP {response.status}: {response.request.method} {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.items.append(f"page error: {error}"))
        page.on("request", on_request)
        page.on("requestfailed", on_failed)
        page.on("response", on_response)


@pytest.fixture
def new_page(browser, request):
    """``new_page(width=1280)`` → (page, problems). Fails the test if the page logged a
    console error, a request failed or answered ≥ 400, or anything left 127.0.0.1."""
    contexts = []
    all_problems: list[PageProblems] = []

    def make(width: int = 1280, height: int = 900, allowed_failures: tuple[str, ...] = ()):
        context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        problems = PageProblems()
        problems.watch(page, allowed_failures=allowed_failures)
        all_problems.append(problems)
        return page, problems

    yield make
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        # What each page looked like when the test failed, for the CI artifacts.
        for number, context in enumerate(contexts):
            for page in context.pages:
                try:
                    screenshot(page, f"FAILED-{request.node.name}-{number}")
                except Exception:  # noqa: BLE001 -- a dead page must not hide the real failure
                    pass
    for context in contexts:
        context.close()
    found = [item for problems in all_problems for item in problems.items]
    if found:
        pytest.fail("page problems:\n" + "\n".join(found))


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for_text(page, text: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in page.content():
            return
        time.sleep(0.2)
    pytest.fail(f"'{text}' did not appear on {page.url}")


def log_in(page, base_url: str, username: str, password: str | None = None) -> None:
    """Log in through the login page and land on the dashboard."""
    from tests.conftest import PASSWORD

    page.goto(base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password or PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/")


def nav_balance(page) -> str:
    """The balance the navigation bar shows, e.g. ``"500.00"``."""
    return page.locator("#nav-balance").inner_text().strip().replace(",", "")


def count_requests(page, part: str) -> list[str]:
    """A list that fills with the URL of every request the page makes whose URL
    contains ``part`` (htmx polls included)."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url) if part in request.url else None)
    return seen


def htmx_settled(page, action) -> None:
    """Run ``action`` (which makes htmx swap part of the page) and wait until htmx has
    swapped and settled the new content. Waiting for the response alone races the swap:
    the next step would act on the element about to be replaced."""
    page.evaluate(
        "window.__htmxSettled = false;"
        "document.body.addEventListener('htmx:afterSettle', () => { window.__htmxSettled = true; }, {once: true});"
    )
    action()
    page.wait_for_function("window.__htmxSettled === true")
