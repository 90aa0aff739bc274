"""Pages that read across the apps: the home page and a user's dashboard."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.templatetags.static import static

from billing.selectors import balance_for_user, ledger_for_user
from mlmodels.selectors import dataset_list_for_user, model_list_for_user
from predictions.selectors import prediction_list_for_user


def home(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "home.html", {"signup_bonus": settings.SIGNUP_BONUS})


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
