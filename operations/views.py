"""Pages that read across the apps: the home page and a user's dashboard."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.templatetags.static import static

from billing.selectors import balance_for_user, ledger_for_user
from mlmodels.ml.samples import DASHBOARD_SAMPLES, SAMPLES
from mlmodels.selectors import dataset_list_for_user, model_card, model_list_for_user, public_model_list
from predictions.selectors import prediction_list_for_user

# Public models listed on a new user's dashboard.
DASHBOARD_PUBLIC_MODELS = 4


def home(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    # A read-only preview of one public model: what it predicts, its inputs, an
    # example row. Running it needs an account.
    # The one with the fewest inputs reads best at a glance.
    demo = min(public_model_list()[:10], key=lambda model: len(model.features), default=None)
    return render(
        request,
        "home.html",
        {
            "signup_bonus": settings.SIGNUP_BONUS,
            "demo": demo,
            "demo_card": model_card(model=demo) if demo else None,
        },
    )


@login_required
def dashboard(request):
    datasets = dataset_list_for_user(user=request.user)
    models = model_list_for_user(user=request.user, mine=True)
    predictions = prediction_list_for_user(user=request.user)
    return render(
        request,
        "dashboard.html",
        {
            "balance": balance_for_user(user=request.user),
            "recent_entries": ledger_for_user(user=request.user)[:5],
            "recent_predictions": predictions.select_related("model")[:5],
            "my_models": models[:5],
            "my_datasets": datasets[:5],
            "samples": [SAMPLES[key] for key in DASHBOARD_SAMPLES],
            "public_models": public_model_list()[:DASHBOARD_PUBLIC_MODELS],
            "counts": {
                "datasets": datasets.count(),
                "models": models.count(),
                "predictions": predictions.count(),
            },
        },
    )


def favicon(request):
    # Resolved per request: with the manifest storage the hashed name is only known
    # after collectstatic, never at import time.
    return redirect(static("img/favicon.svg"), permanent=True)
