from decimal import Decimal

from billing.models import LedgerEntry


def test_staff_grant_coins_from_the_user_list(client, staff, alice, bob):
    client.force_login(staff)
    response = client.post(
        "/admin/accounts/user/",
        {
            "action": "grant_coins",
            "_selected_action": [alice.pk, bob.pk],
            "apply": "1",
            "amount": "40.00",
            "memo": "beta testers",
        },
        follow=True,
    )
    assert "Granted 40.00 coins to 2 user(s)." in response.content.decode()
    grants = LedgerEntry.objects.filter(kind="grant").order_by("account__user__username")
    assert [(g.account.user.username, g.amount, g.created_by, g.memo) for g in grants] == [
        ("alice", Decimal("40.00"), staff, "beta testers"),
        ("bob", Decimal("40.00"), staff, "beta testers"),
    ]


def test_the_grant_form_asks_first_and_refuses_bad_amounts(client, staff, alice):
    client.force_login(staff)
    page = client.post("/admin/accounts/user/", {"action": "grant_coins", "_selected_action": [alice.pk]})
    assert "Grant coins" in page.content.decode()
    bad = client.post(
        "/admin/accounts/user/",
        {"action": "grant_coins", "_selected_action": [alice.pk], "apply": "1", "amount": "-5"},
    )
    assert bad.status_code == 200
    assert LedgerEntry.objects.filter(kind="grant").count() == 0


def test_the_ledger_is_read_only_in_the_admin(client, staff, alice):
    client.force_login(staff)
    entry = LedgerEntry.objects.get(account__user=alice)
    assert client.get("/admin/billing/ledgerentry/").status_code == 200
    assert client.get("/admin/billing/ledgerentry/?kind__exact=signup_bonus").status_code == 200
    assert client.get("/admin/billing/ledgerentry/add/").status_code == 403
    assert client.post(f"/admin/billing/ledgerentry/{entry.pk}/delete/").status_code == 403
    # The change view shows the entry but saves nothing.
    client.post(f"/admin/billing/ledgerentry/{entry.pk}/change/", {"amount": "9999"})
    entry.refresh_from_db()
    assert entry.amount == Decimal("500.00")


def test_the_user_list_shows_balances(client, staff, alice):
    client.force_login(staff)
    page = client.get("/admin/accounts/user/").content.decode()
    assert "500.00" in page


def test_django_q_pages_are_in_the_admin(client, staff):
    client.force_login(staff)
    for path in ("/admin/django_q/failure/", "/admin/django_q/success/", "/admin/django_q/schedule/"):
        assert client.get(path).status_code == 200, path
