"""The webhook part of the profile page: the default URL and the signing secret, which
is shown once, on the page right after it was made."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from core.errors import ServiceError
from webhooks import selectors, services
from webhooks.forms import DefaultWebhookForm

# The session key that carries a new secret to the one page view that shows it.
SECRET_ONCE_KEY = "webhook_secret_once"


def profile_context(request) -> dict:
    """What the profile page shows about webhooks (popping a new secret: shown once)."""
    found = selectors.webhook_settings_for_user(user=request.user)
    return {
        "webhook_settings": found,
        "webhook_form": DefaultWebhookForm(initial={"url": found.default_url if found else ""}),
        "webhook_secret_once": request.session.pop(SECRET_ONCE_KEY, None),
    }


@login_required
@require_POST
def default_url(request):
    form = DefaultWebhookForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(form.errors.get("url", ["Enter a URL."])))
        return redirect("accounts:profile")
    try:
        found = services.webhook_default_url_set(user=request.user, url=form.cleaned_data["url"])
    except ServiceError as error:
        messages.error(request, f"Default webhook URL not saved: {error.errors['webhook_url'][0]}")
    else:
        messages.success(
            request,
            f"Default webhook URL saved: {found.default_url}."
            if found.default_url
            else "Default webhook URL removed.",
        )
    return redirect("accounts:profile")


@login_required
@require_POST
def regenerate_secret(request):
    secret, _ = services.webhook_secret_regenerate(user=request.user)
    request.session[SECRET_ONCE_KEY] = secret
    messages.success(request, "A new webhook signing secret was made; the old one no longer signs.")
    return redirect("accounts:profile")
