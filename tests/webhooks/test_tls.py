"""https: the connection goes to the checked address, and TLS speaks to the URL's host
name (SNI, certificate check), not to the address."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest

from predictions.tasks import run_prediction
from webhooks import url_checks
from webhooks.models import WebhookDelivery
from webhooks.services import webhooks_deliver_due

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for hooks.example only."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=hooks.example",
            "-addext",
            "subjectAltName=DNS:hooks.example",
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


@pytest.fixture
def tls_receiver(stopped_receiver, certificate, monkeypatch):
    key, cert = certificate
    server_names = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    stopped_receiver.start(tls=context)
    # The sender trusts the system's CAs; here, the test certificate instead.
    original = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: original(cafile=str(cert)))
    monkeypatch.setattr(url_checks, "resolve_host", lambda host, port: ["127.0.0.1"])
    stopped_receiver.server_names = server_names
    return stopped_receiver


def submit(api, model, row, url) -> int:
    response = api.post(
        "/api/v1/predictions/", {"model": model.pk, "inputs": row, "webhook": url}, format="json"
    )
    assert response.status_code == 202, response.json()
    run_prediction(response.json()["id"])
    return response.json()["id"]


def test_https_speaks_to_the_host_name_at_the_checked_address(
    settings, alice_api, alice_secret, classifier, row, tls_receiver
):
    settings.WEBHOOK_ALLOW_HTTP = False
    submit(alice_api, classifier, row, f"https://hooks.example:{tls_receiver.port}/hook")
    webhooks_deliver_due()
    [request] = tls_receiver.requests
    assert request.headers["host"] == f"hooks.example:{tls_receiver.port}"
    assert tls_receiver.server_names == ["hooks.example"]
    assert WebhookDelivery.objects.get().status == "delivered"


def test_a_certificate_for_another_name_fails_the_attempt(
    settings, alice_api, alice_secret, classifier, row, tls_receiver
):
    settings.WEBHOOK_ALLOW_HTTP = False
    submit(alice_api, classifier, row, f"https://other.example:{tls_receiver.port}/hook")
    webhooks_deliver_due()
    assert tls_receiver.requests == []
    [attempt] = WebhookDelivery.objects.get().attempt_rows.all()
    assert attempt.status_code is None and "TLS error" in attempt.error
