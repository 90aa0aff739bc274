"""API authentication beyond DRF's own classes."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from core.queries import CompiledQuery

# The user of an API token, looked up on every API request: compiled once (core.queries).
_USER_BY_TOKEN = CompiledQuery(
    lambda key: get_user_model().objects.filter(auth_token__key=key), text=("key",)
)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's ``Authorization: Token <key>``, with the same checks and answers; only the
    lookup of the key's user is compiled once instead of on every request."""

    def authenticate_credentials(self, key):
        found = _USER_BY_TOKEN.instances(get_user_model(), key=key)
        if not found:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = found[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = self.get_model()(key=key, user=user)
        token._state.adding, token._state.db = False, user._state.db  # a row read, not a new one
        return user, token


class BearerTokenAuthentication(TokenAuthentication):
    """The same API token sent as ``Authorization: Bearer <token>``, the habit of most
    HTTP clients (and of MLflow's). Listed after TokenAuthentication in settings, so
    the ``WWW-Authenticate`` header of a 401 still names ``Token``."""

    keyword = "Bearer"
