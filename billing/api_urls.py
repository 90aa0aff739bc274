from django.urls import path

from billing import api

app_name = "billing-api"
urlpatterns = [
    path("balance/", api.BalanceView.as_view(), name="balance"),
    path("ledger/", api.LedgerView.as_view(), name="ledger"),
    path("topup/", api.TopUpView.as_view(), name="topup"),
]
