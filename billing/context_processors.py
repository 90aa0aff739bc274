from billing.models import CoinAccount


def balance(request):
    """The balance in the navigation bar on every page for a signed-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    value = CoinAccount.objects.filter(user=user).values_list("balance", flat=True).first()
    return {"nav_balance": value}
