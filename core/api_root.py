"""The API's front door, /api/v1/: every resource group with its address and what it
is for, so a person (in the browsable API) or a program finds its way from one page."""

from __future__ import annotations

from django.conf import settings
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView


class APIRootView(APIView):
    """Every resource group of the API, each with its address and what it is for.
    Send `Authorization: Token <key>`: your token is on your profile page, or comes
    from `POST auth/token/`. The full contract is in Swagger UI at /api/docs/."""

    # Group name → the URL name of its first address; the descriptions are the
    # settings' API_RESOURCE_GROUPS, the same ones Swagger UI shows.
    group_urls: dict[str, str] = {}
    schema = None  # not an endpoint of the contract

    def get_view_name(self) -> str:
        return "mlservice API"

    def get(self, request):
        body = {}
        for group in settings.API_RESOURCE_GROUPS:
            url = reverse(self.group_urls[group["name"]], request=request)
            body[group["name"]] = {"url": url, "description": group["description"]}
        body["documentation"] = {
            "url": request.build_absolute_uri("/api/docs/"),
            "description": "Swagger UI: every endpoint grouped as above, its fields and error answers; "
            "the OpenAPI schema is at /api/schema/.",
        }
        return Response(body)
