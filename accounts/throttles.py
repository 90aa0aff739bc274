"""The one limit on registrations, for the sign-up page and auth/register/ alike."""

from __future__ import annotations

import math

from rest_framework.throttling import ScopedRateThrottle

from accounts.services import client_ip


class RegistrationThrottle(ScopedRateThrottle):
    """``THROTTLE_REGISTER`` registration attempts per client address (each account
    brings the signup bonus), counted in one cache entry per address whether they come
    from the page or the API. A ScopedRateThrottle with its scope fixed, so it reads the
    same rates and writes the same cache key as DRF's ``register`` scope."""

    scope = "register"

    def __init__(self):
        # ScopedRateThrottle defers this to allow_request, to read the view's scope.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def allow_request(self, request, view) -> bool:
        # SimpleRateThrottle's: the scope is ours, not the view's (the page has no view object).
        return super(ScopedRateThrottle, self).allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}

    def refusal(self, wait: float | None) -> str:
        """What a refused client reads, on the page and in the API's ``detail``."""
        minutes = max(1, math.ceil((wait or self.duration) / 60))
        return (
            f"Too many sign-ups from your address (at most {self.num_requests} per "
            f"{_period(self.duration)}). Try again in {minutes} minute{'s' if minutes > 1 else ''}."
        )


def _period(seconds: int) -> str:
    return {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(seconds, f"{seconds} seconds")
