"""Registration, API tokens and the login guard that slows password guessing."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token
from rest_framework.settings import api_settings

from billing.services import account_open
from core.errors import InvalidInput, Throttled

User = get_user_model()


def username_problems(username: str) -> list[str]:
    """Why ``username`` cannot be registered (empty list: it can)."""
    field = User._meta.get_field("username")
    errors: list[str] = []
    if not username:
        return ["This field is required."]
    if len(username) > field.max_length:
        errors.append(f"At most {field.max_length} characters (this one has {len(username)}).")
    for validator in field.validators:
        try:
            validator(username)
        except ValidationError as error:
            errors.extend(error.messages)
    if not errors and User.objects.filter(username__iexact=username).exists():
        errors.append("A user with that username already exists.")
    return list(dict.fromkeys(errors))


def user_register(*, username: str, password: str, email: str = "") -> User:
    """Create a user with an API token and a coin account holding the signup bonus.
    All or nothing: a refused registration writes no row."""
    username = (username or "").strip()
    email = (email or "").strip()
    errors: dict[str, list[str]] = {}
    username_errors = username_problems(username)
    if username_errors:
        errors["username"] = username_errors
    if email:
        try:
            validate_email(email)
        except ValidationError as error:
            errors["email"] = error.messages
        if len(email) > 254:
            errors.setdefault("email", []).append("At most 254 characters.")
    if not password:
        errors["password"] = ["This field is required."]
    else:
        try:
            validate_password(password, User(username=username, email=email))
        except ValidationError as error:
            errors["password"] = error.messages
    if errors:
        raise InvalidInput("Registration failed: " + ", ".join(sorted(errors)) + ".", errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            Token.objects.create(user=user)
            account_open(user=user)
    except IntegrityError:
        # Two registrations raced for one name; the case-insensitive unique index won.
        raise InvalidInput(
            "Registration failed: username.",
            {"username": ["A user with that username already exists."]},
        ) from None
    return user


def token_for_user(*, user) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token


def token_regenerate(*, user) -> Token:
    """Replace the user's API token; the old one stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def user_password_changed(*, user) -> Token:
    """The user's password was just changed (by them, or by an operator in the admin):
    replace their API token too, so a token taken with the old password, or by whoever
    knew it, stops working at once. Every form that changes a password calls this."""
    return token_regenerate(user=user)


# --- Login guard ---------------------------------------------------------------------
# Every form and endpoint that checks a password (the site's login, the admin's, the
# browsable API's, auth/token/, the old password on a password change) goes through
# login_authenticate, so their failures add up together, across processes (the shared
# cache). Failures are counted per username-and-address pair and per address, never per
# username alone: that would let anyone lock anyone out by guessing wrong a few times.
# The owner's right password from an address that has not failed too often gets in.

# An address is locked after this many times LOGIN_FAILURE_LIMIT failures, over all usernames.
ADDRESS_FAILURE_FACTOR = 4


def _keys(username: str, ip: str) -> tuple[str, str]:
    # Hashed: a username may hold characters a cache key must not (spaces, controls).
    pair = hashlib.sha256(f"{(username or '').lower()[:150]}\0{ip}".encode()).hexdigest()
    return f"login-failures:pair:{pair}", f"login-failures:ip:{ip}"


def login_guard_check(*, username: str, ip: str) -> None:
    """Refuse (429) a password check for a username-and-address pair that failed
    LOGIN_FAILURE_LIMIT times within LOGIN_FAILURE_WINDOW, or from an address that
    failed ADDRESS_FAILURE_FACTOR times as often across usernames."""
    pair_key, ip_key = _keys(username, ip)
    limit = settings.LOGIN_FAILURE_LIMIT
    counts = cache.get_many([pair_key, ip_key])
    if counts.get(pair_key, 0) >= limit or counts.get(ip_key, 0) >= limit * ADDRESS_FAILURE_FACTOR:
        minutes = max(1, settings.LOGIN_FAILURE_WINDOW // 60)
        raise Throttled(
            f"Too many failed login attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            retry_after=settings.LOGIN_FAILURE_WINDOW,
        )


def login_failure_record(*, username: str, ip: str) -> None:
    for key in _keys(username, ip):
        if not cache.add(key, 1, settings.LOGIN_FAILURE_WINDOW):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, settings.LOGIN_FAILURE_WINDOW)


def login_success_record(*, username: str, ip: str) -> None:
    # Only the pair forgets: an address's failures on other usernames still count.
    cache.delete(_keys(username, ip)[0])


def login_authenticate(*, request, username: str, password: str):
    """Check a username and password behind the login guard: the user, or None for a
    wrong password (counted as a failure of this username from this address). Raises
    Throttled while the pair or the address is locked, without checking the password."""
    ip = client_ip(request)
    login_guard_check(username=username, ip=ip)
    user = authenticate(request, username=username, password=password)
    if user is None:
        login_failure_record(username=username, ip=ip)
    else:
        login_success_record(username=username, ip=ip)
    return user


def token_obtain(*, request, username: str, password: str) -> Token:
    """Check credentials for auth/token/ behind the login guard."""
    user = login_authenticate(request=request, username=username, password=password)
    if user is None:
        raise InvalidInput(
            "Unable to log in with the given username and password.",
            {"non_field_errors": ["Unable to log in with the given username and password."]},
        )
    return token_for_user(user=user)


def client_ip(request) -> str:
    """The client's address by the rule DRF's throttles use (NUM_PROXIES): REMOTE_ADDR,
    or behind trusted proxies the X-Forwarded-For entry the nearest one appended; the
    entries before it are whatever the client sent and are never trusted."""
    remote = request.META.get("REMOTE_ADDR", "unknown")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    proxies = api_settings.NUM_PROXIES
    if not proxies or not forwarded:
        return remote
    addresses = [address.strip() for address in forwarded.split(",")]
    return addresses[-min(proxies, len(addresses))] or remote
