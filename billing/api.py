from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors, services
from billing.serializers import BalanceSerializer, LedgerEntrySerializer, TopUpSerializer
from core.openapi import ERROR_RESPONSES, IDEMPOTENCY_HEADER


class BalanceView(APIView):
    @extend_schema(summary="Your balance in coins", responses={200: BalanceSerializer, **ERROR_RESPONSES})
    def get(self, request):
        balance = selectors.balance_for_user(user=request.user)
        return Response(BalanceSerializer({"balance": balance}).data)


@extend_schema_view(get=extend_schema(summary="Your ledger: every change of your balance, newest first"))
class LedgerView(generics.ListAPIView):
    serializer_class = LedgerEntrySerializer

    def get_queryset(self):
        return selectors.ledger_for_user(user=self.request.user)


class TopUpView(APIView):
    @extend_schema(
        summary="Add coins to your balance",
        request=TopUpSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: LedgerEntrySerializer, **ERROR_RESPONSES},
    )
    def post(self, request):
        serializer = TopUpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.account_topup(
            user=request.user,
            amount=serializer.validated_data["amount"],
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
