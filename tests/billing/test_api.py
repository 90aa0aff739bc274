from decimal import Decimal

import pytest

from billing.models import LedgerEntry


def test_balance_and_ledger(alice_api):
    assert alice_api.get("/api/v1/billing/balance/").json() == {"balance": "500.00"}
    body = alice_api.get("/api/v1/billing/ledger/").json()
    assert body["count"] == 1
    entry = body["results"][0]
    assert {k: entry[k] for k in ("kind", "amount", "balance_after", "prediction", "model")} == {
        "kind": "signup_bonus",
        "amount": "500.00",
        "balance_after": "500.00",
        "prediction": None,
        "model": None,
    }
    assert {"id", "memo", "created_at"} <= set(entry)


def test_another_users_ledger_is_invisible(alice_api, bob_api, bob):
    bob_api.post("/api/v1/billing/topup/", {"amount": "42.00"}, format="json")
    amounts = [e["amount"] for e in alice_api.get("/api/v1/billing/ledger/").json()["results"]]
    assert amounts == ["500.00"]
    assert bob_api.get("/api/v1/billing/balance/").json() == {"balance": "542.00"}


def test_ledger_is_paginated_newest_first(alice_api):
    for amount in range(1, 31):
        assert (
            alice_api.post("/api/v1/billing/topup/", {"amount": str(amount)}, format="json").status_code
            == 201
        )
    first = alice_api.get("/api/v1/billing/ledger/").json()
    assert first["count"] == 31 and len(first["results"]) == 25 and first["next"]
    assert first["results"][0]["amount"] == "30.00"
    second = alice_api.get(first["next"]).json()
    assert second["results"][-1]["kind"] == "signup_bonus"


def test_topup_adds_coins_and_answers_with_the_entry(alice_api, alice):
    response = alice_api.post("/api/v1/billing/topup/", {"amount": "25.50"}, format="json")
    assert response.status_code == 201
    assert response.json()["kind"] == "topup"
    assert response.json()["amount"] == "25.50"
    assert response.json()["balance_after"] == "525.50"
    alice.coin_account.refresh_from_db()
    assert alice.coin_account.balance == Decimal("525.50")


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "amount"),
        ({"amount": None}, "amount"),
        ({"amount": ""}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "-10"}, "amount"),
        ({"amount": -10}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "1e400"}, "amount"),
        ({"amount": "100000000000000000000"}, "amount"),
        ({"amount": "10001"}, "amount"),
        ({"amount": 10.5}, "amount"),
        ({"amount": [10]}, "amount"),
        ({"amount": {"value": 10}}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": "10", "currency": "USD"}, "currency"),
    ],
)
def test_bad_topups_are_400_and_write_nothing(alice_api, alice, body, field):
    before = LedgerEntry.objects.count()
    response = alice_api.post("/api/v1/billing/topup/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert response.json()["detail"]
    assert LedgerEntry.objects.count() == before
    alice.coin_account.refresh_from_db()
    assert alice.coin_account.balance == Decimal("500.00")


def test_topup_of_a_non_object_body_is_400(alice_api):
    response = alice_api.post("/api/v1/billing/topup/", [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": ["Expected a JSON object."]}


def test_topup_is_403_when_self_topup_is_off(alice_api, settings):
    settings.BILLING_SELF_TOPUP = False
    response = alice_api.post("/api/v1/billing/topup/", {"amount": "10"}, format="json")
    assert response.status_code == 403
    assert "turned off" in response.json()["detail"]
    assert LedgerEntry.objects.filter(kind="topup").count() == 0


def test_an_idempotent_retry_tops_up_once(alice_api, alice):
    headers = {"HTTP_IDEMPOTENCY_KEY": "topup-1"}
    first = alice_api.post("/api/v1/billing/topup/", {"amount": "10.00"}, format="json", **headers)
    again = alice_api.post("/api/v1/billing/topup/", {"amount": "10.00"}, format="json", **headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert LedgerEntry.objects.filter(kind="topup").count() == 1
    other = alice_api.post("/api/v1/billing/topup/", {"amount": "11.00"}, format="json", **headers)
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["errors"]
    alice.coin_account.refresh_from_db()
    assert alice.coin_account.balance == Decimal("510.00")


def test_the_same_idempotency_key_is_separate_per_user(alice_api, bob_api):
    headers = {"HTTP_IDEMPOTENCY_KEY": "shared"}
    assert (
        alice_api.post("/api/v1/billing/topup/", {"amount": "1"}, format="json", **headers).status_code == 201
    )
    assert (
        bob_api.post("/api/v1/billing/topup/", {"amount": "2"}, format="json", **headers).status_code == 201
    )
    assert LedgerEntry.objects.filter(kind="topup").count() == 2


def test_billing_needs_authentication(api, db):
    for path in ("/api/v1/billing/balance/", "/api/v1/billing/ledger/"):
        response = api.get(path)
        assert response.status_code == 401
        assert response.json()["detail"]
    assert api.post("/api/v1/billing/topup/", {"amount": "1"}, format="json").status_code == 401
