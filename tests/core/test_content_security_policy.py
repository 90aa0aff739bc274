"""Content-Security-Policy with DEBUG off: scripts only from this site, never inline.
The pages, the admin, Swagger UI and DRF's browsable API must work under it, so none
of them may carry an inline script or an inline event handler."""

from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from tests.conftest import BASE_DIR


@pytest.fixture(scope="module")
def production_policy(tmp_path_factory) -> str:
    """CONTENT_SECURITY_POLICY as the settings read it with DEBUG=0."""
    shown = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print('POLICY=' + settings.CONTENT_SECURITY_POLICY)",
        ],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": "x" * 50,
            "VAR_DIR": str(tmp_path_factory.mktemp("var")),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    (line,) = [line for line in shown.stdout.splitlines() if line.startswith("POLICY=")]
    return line.removeprefix("POLICY=")


def directives(policy: str) -> dict[str, str]:
    return {
        name: value.strip()
        for name, _, value in (part.strip().partition(" ") for part in policy.split(";"))
        if name
    }


def test_production_allows_scripts_from_this_site_only(production_policy):
    policy = directives(production_policy)
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"


def test_development_sends_no_policy(db, client, settings):
    # Django's debug pages run inline scripts.
    assert settings.CONTENT_SECURITY_POLICY == ""
    assert "Content-Security-Policy" not in client.get("/accounts/login/")


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/docs/", "/api/v1/me/", "/no-such-page/"])
def test_every_answer_carries_the_production_policy(db, client, settings, production_policy, path):
    settings.CONTENT_SECURITY_POLICY = production_policy
    assert client.get(path)["Content-Security-Policy"] == production_policy


class _InlineScripts(HTMLParser):
    """Collects what script-src 'self' would block: inline <script> (JSON data blocks
    are not run, so they are allowed), on* event handler attributes, javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._inline_script = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script" and not values.get("src") and values.get("type") != "application/json":
            self._inline_script = True
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_data(self, data):
        if self._inline_script and data.strip():
            self.found.append(f"<script>{data.strip()[:80]}</script>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._inline_script = False


def inline_scripts(html: str) -> list[str]:
    parser = _InlineScripts()
    parser.feed(html)
    return parser.found


PAGES = [
    "/dashboard/",
    "/datasets/",
    "/datasets/upload/",
    "/models/",
    "/models/train/",
    "/experiments/new/",
    "/predictions/",
    "/billing/",
    "/accounts/profile/",
    "/admin/",
    "/admin/operations/",
    "/admin/accounts/user/",
    "/admin/accounts/user/add/",
    "/admin/mlmodels/trainedmodel/",
    "/api/docs/",
    "/api/v1/",
    "/api/v1/models/",
]


@pytest.mark.parametrize("path", PAGES)
def test_no_page_has_an_inline_script(client, staff, path):
    client.force_login(staff)
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert inline_scripts(response.content.decode()) == []


@pytest.mark.parametrize(
    "path", ["/", "/accounts/login/", "/accounts/register/", "/admin/login/", "/api/docs/"]
)
def test_no_public_page_has_an_inline_script(db, client, path):
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert inline_scripts(response.content.decode()) == []


def test_swagger_ui_starts_from_a_script_file_of_this_site(db, client):
    page = client.get("/api/docs/").content.decode()
    assert 'src="/api/docs/?script="' in page

    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content and b"/api/schema/" in script.content
