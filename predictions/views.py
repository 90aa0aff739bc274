"""Web pages: predict with a model, follow a prediction live, the history. Each view
parses the request, calls the same service or selector as the API, and renders."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from billing.services import cost_quote
from core.errors import PayloadTooLarge, ServiceError
from core.forms import add_service_error
from core.jobs.waiting import wait_for_submission
from core.middleware import body_limit
from core.units import human_size
from mlmodels.ml.schema import FeatureSchema
from mlmodels.models import TrainedModel
from mlmodels.selectors import model_get_for_user, model_prediction_refusal
from predictions import selectors, services
from predictions.api import csv_attachment
from predictions.forms import CsvForm, JsonForm, PredictionFilterForm, RowForm
from predictions.jobs import PREDICTION
from predictions.models import Prediction
from predictions.uploads import PredictionUploadHandler
from webhooks.models import Resource
from webhooks.selectors import webhook_deliveries_for_job

PREVIEW_ROWS = 100
# How long the predict page waits for a one-row answer before showing a link to the
# prediction instead (the API's Prefer: wait, within its bounds; scoring one row
# takes milliseconds once a worker has it).
PAGE_ANSWER_WAIT_SECONDS = 10


# --- Predict --------------------------------------------------------------------------------


def _example_row(features) -> dict:
    example = {}
    for feature in features:
        if feature.kind == "numeric":
            example[feature.name] = 0
        elif feature.kind == "boolean":
            example[feature.name] = True
        else:
            example[feature.name] = (feature.categories or ["some value"])[0]
    return example


def _render_predict(
    request,
    model: TrainedModel,
    forms: dict,
    *,
    active: str = "row",
    status: int = 200,
    upload_error: str = "",
):
    schema = FeatureSchema.from_dict(model.feature_schema) if model.feature_schema else None
    features = schema.features if schema else []
    return render(
        request,
        "predictions/predict.html",
        {
            "model": model,
            "can_predict_version": model_prediction_refusal(user=request.user, model=model) is None,
            "features": features,
            "classes": schema.classes if schema else None,
            "row_form": forms.get("row") or RowForm(features=features),
            "csv_form": forms.get("csv") or CsvForm(),
            "json_form": forms.get("json") or JsonForm(),
            "active": active,
            "upload_error": upload_error,
            "one_row": cost_quote(
                rows=1, price_per_row=model.price_per_row, price_per_request=model.price_per_request
            ),
            "json_example": json.dumps([_example_row(features)], indent=2),
            "max_json_rows": settings.PREDICTION_MAX_JSON_ROWS,
            "max_csv_rows": settings.PREDICTION_MAX_ROWS,
            "max_size": human_size(settings.PREDICTION_MAX_BYTES),
        },
        status=status,
    )


@body_limit("PREDICTION_MAX_BYTES")
@csrf_exempt  # the CSRF check runs in _predict, after the upload handler is installed
@login_required
@require_http_methods(["GET", "POST"])
def predict(request, model_pk: int):
    model = model_get_for_user(user=request.user, pk=model_pk)
    if request.method != "POST":
        return _render_predict(request, model, {})
    # A CSV streams straight to storage (and stops at the size limit) instead of going
    # through a temporary file; the handler must be in place before the body is read.
    handler = PredictionUploadHandler(request, field_name=f"{CsvForm.mode}-file")
    request.upload_handlers = [handler]
    try:
        try:
            request.POST  # noqa: B018 -- parse the body now, with our handler
        except PayloadTooLarge as error:
            # The body was not read, so there is no bound form to attach the error to.
            return _render_predict(request, model, {}, active="csv", status=413, upload_error=error.detail)
        return _predict(request, model, handler)
    finally:
        handler.discard_unclaimed()


@csrf_protect
def _predict(request, model: TrainedModel, handler: PredictionUploadHandler):
    mode = request.POST.get("mode")
    schema = FeatureSchema.from_dict(model.feature_schema) if model.feature_schema else None
    if mode == RowForm.mode and schema is not None:
        form = RowForm(request.POST, features=schema.features)
    elif mode == CsvForm.mode:
        form = CsvForm(request.POST, request.FILES)
    elif mode == JsonForm.mode:
        form = JsonForm(request.POST)
    else:
        messages.error(request, "Choose one of the three ways to send input.")
        return redirect("predictions:predict", model.pk)

    answer_here = mode == RowForm.mode and request.headers.get("HX-Request") == "true"
    if form.is_valid():
        arguments = {}
        if mode == RowForm.mode:
            arguments["inputs"] = form.row()
        elif mode == JsonForm.mode:
            arguments["inputs"] = form.cleaned_data["inputs"]
        else:
            arguments["upload"] = form.cleaned_data["file"]
        try:
            submission = services.prediction_submit(
                user=request.user,
                model_id=model.pk,
                idempotency_key=form.key,
                **arguments,
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            prediction = submission.prediction
            handler.adopted = prediction.input_file.name or ""
            if answer_here:
                return _row_answer(request, model, form, prediction, replayed=submission.replayed)
            # No "queued" message: the page shows the status, the cost and the charge
            # live, and a message saying "queued" would stay there after success.
            return redirect("predictions:detail", prediction.pk)
    if answer_here:
        # htmx swaps only 2xx answers: the form with its errors comes back as a 200.
        return render(request, "predictions/row_partial.html", _row_context(model, form))
    return _render_predict(request, model, {mode: form}, active=mode, status=400)


def _row_context(model: TrainedModel, form: RowForm, answer: dict | None = None) -> dict:
    return {
        "model": model,
        "row_form": form,
        "answer": answer,
        "one_row": cost_quote(
            rows=1, price_per_row=model.price_per_row, price_per_request=model.price_per_request
        ),
    }


def _row_answer(request, model: TrainedModel, form: RowForm, prediction: Prediction, *, replayed: bool):
    """The answer under the one-row form (htmx): wait for the prediction as a
    ``Prefer: wait`` request would, then show the class with its probability and a bar
    per class, or the value — above a fresh form holding the same inputs (a new key,
    so changing a field and predicting again is a new prediction)."""
    if not prediction.is_finished and wait_for_submission(
        PREDICTION, prediction.pk, wait=PAGE_ANSWER_WAIT_SECONDS, user_id=request.user.pk, replayed=replayed
    ):
        prediction.refresh_from_db()
    answer: dict = {"prediction": prediction, "status": prediction.status, "value": None}
    record = (prediction.results or [None])[0] if prediction.status == Prediction.Status.SUCCEEDED else None
    if record is not None:
        answer["value"] = record.get("prediction")
        probabilities = record.get("probabilities") or {}
        classes = sorted(probabilities.items(), key=lambda item: item[1] or 0, reverse=True)
        answer["classes"] = [
            {"label": label, "probability": value, "percent": round(100 * (value or 0), 1)}
            for label, value in classes
        ]
        answer["probability"] = probabilities.get(str(answer["value"]))
    inputs = {name: value for name, value in form.cleaned_data.items() if name != "idempotency_key"}
    fresh = RowForm(initial=inputs, features=form.features)
    return render(request, "predictions/row_partial.html", _row_context(model, fresh, answer))


# --- One prediction ---------------------------------------------------------------------------


def _live_context(prediction: Prediction) -> dict:
    header, rows = selectors.prediction_result_preview(prediction=prediction, limit=PREVIEW_ROWS)
    first_ours = max(len(header) - selectors.prediction_output_columns(prediction=prediction), 0)
    table = []
    for row in rows:
        cells = []
        for position, value in enumerate(row):
            if position > first_ours:  # probability columns: four decimals are plenty
                try:
                    value = f"{float(value):.4f}"
                except ValueError:
                    pass
            cells.append(value)
        # What the user came for first: the prediction and probabilities, then the inputs.
        table.append(cells[first_ours:] + cells[:first_ours])
    return {
        "prediction": prediction,
        "header": header[first_ours:] + header[:first_ours],
        "ours": len(header) - first_ours,
        "rows": table,
        "preview_rows": PREVIEW_ROWS,
        "entries": selectors.prediction_ledger_entries(prediction=prediction),
        "retention_days": settings.PREDICTION_FILE_RETENTION_DAYS,
    }


@login_required
@require_safe
def prediction_detail(request, pk: int):
    prediction = selectors.prediction_get_for_user(user=request.user, pk=pk)
    deliveries = webhook_deliveries_for_job(
        user=request.user, resource=Resource.PREDICTION, job_id=prediction.pk
    )
    return render(
        request, "predictions/detail.html", {**_live_context(prediction), "webhook_deliveries": deliveries}
    )


@login_required
@require_safe
def prediction_status(request, pk: int):
    """The live part of the prediction page, polled by htmx every second until the
    prediction finishes (the finished version carries no polling trigger)."""
    prediction = selectors.prediction_get_for_user(user=request.user, pk=pk)
    return render(request, "predictions/status_partial.html", _live_context(prediction))


@login_required
@require_POST
def prediction_cancel(request, pk: int):
    prediction = selectors.prediction_get_for_user(user=request.user, pk=pk)
    try:
        prediction = services.prediction_cancel(user=request.user, prediction=prediction)
    except ServiceError as error:
        messages.error(request, error.detail)
    else:
        refunded = f" {prediction.cost} coins were refunded." if prediction.cost else ""
        messages.success(request, f"Prediction #{prediction.pk} canceled.{refunded}")
    return redirect("predictions:detail", prediction.pk)


@login_required
@require_safe
def prediction_download(request, pk: int):
    prediction = selectors.prediction_get_for_user(user=request.user, pk=pk)
    try:
        return csv_attachment(prediction)
    except ServiceError as error:
        messages.error(request, error.detail)
        return redirect("predictions:detail", prediction.pk)


# --- History -------------------------------------------------------------------------------------


@login_required
@require_safe
def prediction_list(request):
    models = (
        TrainedModel.objects.filter(predictions__owner=request.user).distinct().order_by("name", "version")
    )
    form = PredictionFilterForm(request.GET or None, models=models)
    filters = form.cleaned_data if form.is_valid() else {}
    predictions = selectors.prediction_filtered_list_for_user(
        user=request.user, status=filters.get("status") or None, model=filters.get("model")
    )
    page = Paginator(predictions, 20).get_page(request.GET.get("page"))
    query = urlencode({name: value for name, value in filters.items() if value not in (None, "")})
    return render(request, "predictions/list.html", {"form": form, "page": page, "query": query})
