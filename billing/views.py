from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from billing import selectors, services
from billing.forms import TopUpForm
from core.errors import ServiceError
from core.forms import add_service_error


@login_required
@require_http_methods(["GET", "POST"])
def billing_page(request):
    form = TopUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            entry = services.account_topup(
                user=request.user, amount=form.cleaned_data["amount"], idempotency_key=form.key
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Added {entry.amount} coins. Your balance is {entry.balance_after}.")
            return redirect("billing:page")
    page = Paginator(selectors.ledger_for_user(user=request.user), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "billing/page.html",
        {
            "form": form,
            "page": page,
            "balance": selectors.balance_for_user(user=request.user),
            "self_topup": settings.BILLING_SELF_TOPUP,
        },
    )
