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


def test_a_users_admin_page_shows_balance_recent_ledger_and_a_grant_button(client, staff, alice):
    client.force_login(staff)

    page = client.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()

    assert "500.00 coins" in page
    assert "Recent ledger" in page and "Signup bonus" in page
    assert f'href="/admin/accounts/user/{alice.pk}/grant-coins/"' in page
    assert f"/admin/billing/ledgerentry/?account__user__id__exact={alice.pk}" in page


def test_the_grant_button_grants_through_the_ledger_and_says_the_new_balance(client, staff, alice):
    client.force_login(staff)
    url = f"/admin/accounts/user/{alice.pk}/grant-coins/"
    assert "Grant coins to alice" in client.get(url).content.decode()

    response = client.post(url, {"amount": "25.50", "memo": "sorry for the outage"}, follow=True)

    assert response.redirect_chain[-1][0] == f"/admin/accounts/user/{alice.pk}/change/"
    page = response.content.decode()
    assert "Granted 25.50 coins to alice: the balance is now 525.50." in page
    grant = LedgerEntry.objects.get(kind="grant")
    assert (grant.account.user, grant.amount, grant.created_by, grant.memo) == (
        alice,
        Decimal("25.50"),
        staff,
        "sorry for the outage",
    )
    alice.coin_account.refresh_from_db()
    assert alice.coin_account.balance == Decimal("525.50")


def test_a_bad_grant_amount_is_a_form_error_and_grants_nothing(client, staff, alice):
    client.force_login(staff)
    for amount in ("-5", "0", "abc", "1.001"):
        response = client.post(f"/admin/accounts/user/{alice.pk}/grant-coins/", {"amount": amount})
        assert response.status_code == 200
        assert response.context["form"].errors["amount"], amount
    assert LedgerEntry.objects.filter(kind="grant").count() == 0


def test_only_staff_reach_the_grant_page(client, alice, bob):
    client.force_login(bob)
    response = client.post(f"/admin/accounts/user/{alice.pk}/grant-coins/", {"amount": "100"})
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert LedgerEntry.objects.filter(kind="grant").count() == 0
