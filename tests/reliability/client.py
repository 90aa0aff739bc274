"""The reliability suite's HTTP client: ``Http``, a plain HTTP/1.1 client for one
server (a new connection per request, as the TLS proxy in front of the service would
send it), its ``Answer`` (status, headers, body, time taken, or the transport failure)
and ``multipart`` for file uploads. Talks to 127.0.0.1 only; every request is bounded
by ``REQUEST_TIMEOUT``.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

# Every request's client-side limit: a request that takes longer counts as a hang.
REQUEST_TIMEOUT = 30.0
# What the TLS proxy in front of the service adds (see README, "Running in production").
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    error: str = ""  # a transport failure (refused, reset, timed out): status is 0

    @property
    def data(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def is_json(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/json") and self.data is not None

    @property
    def detail(self) -> str:
        data = self.data
        return str(data.get("detail", "")) if isinstance(data, dict) else ""

    def describe(self) -> str:
        return f"{self.status} {self.error or self.body[:400]!r}"


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, content, content_type) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Http:
    """A plain HTTP/1.1 client for one server: a new connection per request, so it is
    safe from many threads and a dead connection never poisons the next request."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        host_port = base_url.removeprefix("http://")
        self.host, port = host_port.split(":")
        self.port = int(port)

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = REQUEST_TIMEOUT,
        proxy: bool = True,
    ) -> Answer:
        sent = dict(PROXY_HEADERS) if proxy else {}
        sent["Accept"] = "application/json"
        if token:
            sent["Authorization"] = f"Token {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = content_type or "application/json"
        if content_type:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        started = time.monotonic()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.putrequest(method, path, skip_host="Host" in sent, skip_accept_encoding=True)
            for name, value in sent.items():
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders()
            if body:
                try:
                    connection.send(body)
                except OSError:
                    # The server answered (a 413) and closed before taking the whole
                    # body: its answer is still there to read.
                    pass
            response = connection.getresponse()
            content = response.read()
            answer_headers = {name.lower(): value for name, value in response.getheaders()}
            return Answer(response.status, answer_headers, content, time.monotonic() - started)
        except (OSError, http.client.HTTPException) as error:
            return Answer(0, {}, b"", time.monotonic() - started, error=f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    def get(self, path: str, **kwargs) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> Answer:
        return self.request("POST", path, **kwargs)
