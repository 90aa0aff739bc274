"""Which webhook URLs the service will call (checked at submit and again at delivery).

https only (http with WEBHOOK_ALLOW_HTTP), at most 2,000 characters, no user name or
password in it, and a host whose every address is public: private, loopback,
link-local, multicast, reserved, unspecified and cloud metadata addresses are refused
unless WEBHOOK_ALLOW_PRIVATE. ``url_resolve`` returns the checked addresses; the sender
connects to one of them (not to the name again), so a DNS answer that changes between
the check and the connection cannot point the request elsewhere."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

URL_MAX_LENGTH = 2000
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class UrlRefused(Exception):
    """The URL may not be called; the message says why, in the user's words."""


@dataclass(frozen=True)
class WebhookUrl:
    url: str
    scheme: str
    host: str
    port: int
    path: str  # with the query string


def url_parse(url: str) -> WebhookUrl:
    """The URL's parts, or UrlRefused for a URL the service will not call whatever its
    host resolves to (scheme, length, credentials, no host)."""
    if not isinstance(url, str) or not url.strip():
        raise UrlRefused("Enter a URL.")
    url = url.strip()
    if len(url) > URL_MAX_LENGTH:
        raise UrlRefused(f"The URL is {len(url):,} characters long; at most {URL_MAX_LENGTH:,} are allowed.")
    if any(character.isspace() or ord(character) < 32 for character in url):
        raise UrlRefused("The URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UrlRefused(f"This is not a valid URL ({error}).") from None
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise UrlRefused(
            "The URL must start with https://." if allowed == ("https",) else "Use http or https."
        )
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("The URL may not contain a user name or password; put credentials in the path.")
    if not parts.hostname:
        raise UrlRefused("The URL has no host name.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookUrl(
        url=url,
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
    )


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the name resolves to (tests patch this to play DNS)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UrlRefused(f"The host name {host} could not be resolved ({error}).") from None
    return list(dict.fromkeys(answer[4][0] for answer in answers))


def address_refusal(address: str) -> str | None:
    """Why the service will not connect to this address, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for refused, words in (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    ):
        if refused:
            return words
    return None


def url_resolve(webhook_url: WebhookUrl) -> list[str]:
    """The host's addresses, each checked; UrlRefused if any of them may not be called
    (one bad answer refuses the URL: the next lookup may return just that one)."""
    if _is_address(webhook_url.host):
        addresses = [webhook_url.host]
    else:
        addresses = resolve_host(webhook_url.host, webhook_url.port)
    if not addresses:
        raise UrlRefused(f"The host name {webhook_url.host} has no address.")
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            why = address_refusal(address)
            if why is not None:
                raise UrlRefused(
                    f"{webhook_url.host} resolves to {address}, {why}; webhooks go to public hosts only."
                )
    return addresses


def url_check(url: str) -> tuple[WebhookUrl, list[str]]:
    """Parse, resolve and check a URL: its parts and the addresses one may connect to."""
    parsed = url_parse(url)
    return parsed, url_resolve(parsed)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
