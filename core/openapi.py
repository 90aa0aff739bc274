"""Shared OpenAPI pieces so every endpoint documents its error answers the same way."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "detail": serializers.CharField(),
        "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)

ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input; `errors` names each field."),
    401: OpenApiResponse(ErrorSerializer, description="No or invalid token."),
    402: OpenApiResponse(
        ErrorSerializer,
        description="Not enough coins (`balance`, `cost`; for a prediction also how the cost is made: "
        "`rows`, `price_per_request`, `price_per_row`, `cost_formula`).",
    ),
    403: OpenApiResponse(ErrorSerializer, description="Not allowed."),
    404: OpenApiResponse(ErrorSerializer, description="Not found (or not yours)."),
    409: OpenApiResponse(ErrorSerializer, description="Conflict."),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests."),
}

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Retry safely: the same key and body return the first answer; another body is 409.",
)
PREFER_HEADER = OpenApiParameter(
    name="Prefer",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="`wait=N` (N ≤ 60): answer when the job ends or after N seconds.",
)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """core.authentication.BearerTokenAuthentication in the schema, under a name of its
    own: drf-spectacular's TokenScheme matches subclasses of TokenAuthentication and
    would give both classes the one name ``tokenAuth``."""

    target_class = "core.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")
