"""One HTTP POST of a webhook, to an address checked beforehand (url_checks).

The connection goes to that address; the Host header, TLS SNI and certificate check use
the URL's host name. No redirect is followed (http.client follows none: a 3xx is an
answer like any other, and not a 2xx). At most RESPONSE_BODY_LIMIT bytes of the answer
are read."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from webhooks.url_checks import WebhookUrl

TIMEOUT_SECONDS = 5
RESPONSE_BODY_LIMIT = 1024
USER_AGENT = "mlservice-webhooks/1"


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    duration_ms: int
    error: str = ""
    response_body: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _connection(url: WebhookUrl, address: str) -> http.client.HTTPConnection:
    if url.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            url.host, url.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(url.host, url.port, timeout=TIMEOUT_SECONDS)

    def connect_to_checked_address(_address, timeout, source_address=None):
        # http.client names (host, port); we connect to the address that was checked.
        return socket.create_connection((address, url.port), timeout, source_address)

    connection._create_connection = connect_to_checked_address
    return connection


def send(*, url: WebhookUrl, address: str, body: bytes, headers: dict[str, str]) -> SendResult:
    """POST ``body`` and report what happened; never raises for the network's faults."""
    started = time.monotonic()
    connection = _connection(url, address)
    try:
        connection.request(
            "POST",
            url.path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        response = connection.getresponse()
        answer = response.read(RESPONSE_BODY_LIMIT).decode("utf-8", errors="replace")
        status = response.status
    except TimeoutError:
        return SendResult(None, _ms(started), error=f"No answer within {TIMEOUT_SECONDS} seconds.")
    except ssl.SSLError as error:
        return SendResult(None, _ms(started), error=f"TLS error: {error}"[:500])
    except (OSError, http.client.HTTPException) as error:
        return SendResult(None, _ms(started), error=f"{type(error).__name__}: {error}"[:500])
    finally:
        connection.close()
    error = ""
    if 300 <= status < 400:
        error = f"Redirect ({status}) not followed; give the final URL."
    elif not 200 <= status < 300:
        error = f"The receiver answered {status}."
    return SendResult(status, _ms(started), error=error, response_body=answer)


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
