"""API authentication beyond DRF's own classes."""

from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """The same API token sent as ``Authorization: Bearer <token>``, the habit of most
    HTTP clients (and of MLflow's). Listed after TokenAuthentication in settings, so
    the ``WWW-Authenticate`` header of a 401 still names ``Token``."""

    keyword = "Bearer"
