import math

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts import services
from accounts.serializers import (
    MeSerializer,
    MeUpdateSerializer,
    RegisteredSerializer,
    RegisterSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from accounts.throttles import RegistrationThrottle
from core.openapi import ERROR_RESPONSES
from webhooks.services import webhook_default_url_set


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [RegistrationThrottle]

    def throttled(self, request, wait):
        error = exceptions.Throttled(detail=RegistrationThrottle().refusal(wait))
        error.wait = math.ceil(wait) if wait else None  # without DRF's own sentence about it
        raise error

    @extend_schema(
        summary="Create an account and get its API token",
        request=RegisterSerializer,
        responses={201: RegisteredSerializer, **ERROR_RESPONSES},
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        body = {
            "id": user.pk,
            "username": user.username,
            "token": services.token_for_user(user=user).key,
            "balance": user.coin_account.balance,
        }
        return Response(RegisteredSerializer(body).data, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    """Exchange a username and password for the API token."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AnonRateThrottle]

    @extend_schema(
        summary="Exchange a username and password for the API token",
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, **ERROR_RESPONSES},
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = services.token_obtain(
            request=request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        return Response({"token": token.key})


class MeView(APIView):
    @extend_schema(
        summary="Who you are: username, e-mail, balance, staff or not",
        responses={200: MeSerializer, **ERROR_RESPONSES},
    )
    def get(self, request):
        return Response(MeSerializer(request.user).data)

    @extend_schema(
        summary="Set your default webhook URL",
        request=MeUpdateSerializer,
        responses={200: MeSerializer, **ERROR_RESPONSES},
    )
    def patch(self, request):
        serializer = MeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook_default_url_set(user=request.user, url=serializer.validated_data["webhook_url"])
        return Response(MeSerializer(request.user).data)
