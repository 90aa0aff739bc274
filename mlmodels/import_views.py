"""The page that imports a model trained elsewhere (the same service as the API)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from billing.selectors import balance_for_user
from core.errors import ServiceError
from core.forms import add_service_error
from core.middleware import body_limit
from mlmodels import services
from mlmodels.import_forms import ModelImportForm


def _context(request, form: ModelImportForm) -> dict:
    return {"form": form, "fee": services.import_fee(), "balance": balance_for_user(user=request.user)}


@body_limit("MODEL_IMPORT_MAX_BYTES")
@login_required
@require_http_methods(["GET", "POST"])
def model_import(request):
    # A body over MODEL_IMPORT_MAX_BYTES is refused (413) by core.middleware from its
    # Content-Length; the service counts the bytes it copies as well.
    if request.method == "POST":
        form = ModelImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                submission = services.model_import(
                    user=request.user, idempotency_key=form.key, **form.service_arguments()
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                model = submission.model
                fee = (
                    f"{model.training_fee} coins were charged" if model.training_fee else "the import is free"
                )
                messages.success(
                    request,
                    f"“{model}” is being checked on its sample rows; {fee} (refunded if the check fails).",
                )
                return redirect("mlmodels:model-detail", pk=model.pk)
    else:
        form = ModelImportForm()
    return render(request, "mlmodels/model_import.html", _context(request, form))
