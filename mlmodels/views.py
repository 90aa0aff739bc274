"""Web pages for datasets and models. Each view parses, calls one service or selector
and renders; the rules live in services (shared with the API)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.selectors import balance_for_user
from core.errors import PayloadTooLarge, ServiceError
from core.forms import add_service_error
from core.middleware import body_limit
from mlmodels import selectors, services
from mlmodels.api import refuse_oversized_upload
from mlmodels.forms import HP_PREFIX, DatasetUploadForm, ModelFilterForm, ModelSettingsForm, TrainForm
from mlmodels.ml import metrics as ml_metrics
from mlmodels.models import Dataset, TrainedModel
from monitoring.serializers import DriftSerializer
from webhooks.models import Resource
from webhooks.selectors import webhook_deliveries_for_job

PAGE_SIZE = 20
# Charts drawn on a dataset page; beyond this the table still lists every column.
MAX_COLUMN_CHARTS = 60


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def finished_partial(request, template: str, context: dict[str, Any], finished: bool) -> HttpResponse:
    """A polled status partial. Once the job is finished the answer has no polling
    trigger, and htmx is told to reload the page so the results appear."""
    response = render(request, template, context)
    if finished and is_htmx(request):
        response["HX-Refresh"] = "true"
    return response


# --- Datasets ------------------------------------------------------------------------------


@login_required
@require_GET
def dataset_list(request):
    page = Paginator(selectors.dataset_list_for_user(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "mlmodels/dataset_list.html", {"page": page})


@body_limit("DATASET_MAX_BYTES")
@login_required
@require_http_methods(["GET", "POST"])
def dataset_upload(request):
    if request.method == "POST":
        try:
            refuse_oversized_upload(request)
        except PayloadTooLarge as error:
            form = DatasetUploadForm()
            messages.error(request, error.detail)
            return render(request, "mlmodels/dataset_upload.html", {"form": form}, status=413)
        form = DatasetUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                dataset = services.dataset_upload(
                    user=request.user, file=form.cleaned_data["file"], name=form.cleaned_data["name"]
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    f"Uploaded “{dataset.name}”: {dataset.rows:,} rows, {len(dataset.columns)} columns. "
                    "Its profile is being computed.",
                )
                return redirect("mlmodels:dataset-detail", pk=dataset.pk)
    else:
        form = DatasetUploadForm()
    return render(request, "mlmodels/dataset_upload.html", {"form": form})


def _correlation_rows(correlations: dict[str, Any]) -> list[dict[str, Any]]:
    """The correlation matrix as table rows with a colour per cell (blue positive,
    red negative, stronger for larger magnitudes)."""
    rows = []
    for name, values in zip(correlations.get("columns", []), correlations.get("matrix", []), strict=False):
        cells = []
        for value in values:
            if value is None:
                cells.append({"value": None, "style": ""})
                continue
            alpha = min(abs(value), 1.0) * 0.85
            color = "13, 110, 253" if value >= 0 else "220, 53, 69"
            text = "#fff" if alpha > 0.5 else "inherit"
            cells.append(
                {"value": value, "style": f"background-color: rgba({color}, {alpha:.2f}); color: {text}"}
            )
        rows.append({"name": name, "cells": cells})
    return rows


@login_required
@require_POST
def dataset_upload_sample(request):
    try:
        dataset = services.dataset_upload_sample(user=request.user, key=request.POST.get("sample", ""))
    except ServiceError as error:
        messages.error(request, error.detail)
        return redirect("dashboard")
    messages.success(
        request,
        f"Added the sample “{dataset.name}”: {dataset.rows:,} rows, {len(dataset.columns)} columns. "
        "Its profile is being computed.",
    )
    return redirect("mlmodels:dataset-detail", pk=dataset.pk)


@login_required
@require_GET
def dataset_detail(request, pk):
    dataset = selectors.dataset_get_for_user(user=request.user, pk=pk)
    profile = dataset.profile or {}
    profile_columns = profile.get("columns", [])
    # Ids and free text get an alert instead of a chart (profiles computed before
    # "chart" existed draw every column).
    charted = [column for column in profile_columns if column.get("chart") != "none"]
    return render(
        request,
        "mlmodels/dataset_detail.html",
        {
            "dataset": dataset,
            "profile": profile,
            "profile_columns": profile_columns,
            "alerts": profile.get("alerts", []),
            "chart_columns": charted[:MAX_COLUMN_CHARTS],
            "more_columns": max(0, len(charted) - MAX_COLUMN_CHARTS),
            "correlations": _correlation_rows(profile.get("correlations") or {}),
            "models": dataset.trained_models.filter(deleted_at__isnull=True).select_related("algorithm")[:10],
        },
    )


@login_required
@require_GET
def dataset_status(request, pk):
    dataset = selectors.dataset_get_for_user(user=request.user, pk=pk)
    return finished_partial(
        request,
        "mlmodels/dataset_status_partial.html",
        {"dataset": dataset},
        finished=dataset.status != Dataset.Status.PROFILING,
    )


@login_required
@require_POST
def dataset_delete(request, pk):
    dataset = selectors.dataset_get_for_user(user=request.user, pk=pk)
    name = dataset.name
    services.dataset_delete(dataset=dataset)
    messages.success(request, f"Deleted the dataset “{name}” and its file.")
    return redirect("mlmodels:dataset-list")


# --- Models --------------------------------------------------------------------------------


@login_required
@require_GET
def model_list(request):
    form = ModelFilterForm(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    sort = filters.get("sort") or None
    models = selectors.model_list_for_user(
        user=request.user,
        mine=bool(filters.get("mine")),
        status=filters.get("status") or None,
        algorithm=filters.get("algorithm") or None,
        dataset=filters.get("dataset"),
        target=filters.get("target") or None,
        sort=sort,
    )
    page = Paginator(models, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({key: value for key, value in request.GET.items() if key != "page" and value})
    return render(
        request,
        "mlmodels/model_list.html",
        {
            "page": page,
            "form": form,
            "query": query,
            "filtered": bool(query),
            "sort": selectors.METRIC_SORTS.get(sort) if sort else None,
            # Models of one dataset and target can be ticked and compared.
            "can_compare": bool(filters.get("dataset") and filters.get("target")),
        },
    )


COMPARED_METRICS = {
    "classification": [
        ("accuracy", "Accuracy", True),
        ("baseline", "Majority-class baseline", None),
        ("precision", "Precision", True),
        ("recall", "Recall", True),
        ("f1", "F1", True),
        ("roc_auc", "ROC AUC", True),
    ],
    "regression": [("r2", "R²", True), ("mae", "MAE", False), ("rmse", "RMSE", False)],
}


@login_required
@require_GET
def model_compare(request):
    try:
        ids = [int(value) for value in request.GET.getlist("models")]
    except ValueError:
        ids = []
    try:
        models = selectors.models_to_compare(user=request.user, ids=ids)
    except ServiceError as error:
        messages.error(request, error.detail)
        back = {key: request.GET[key] for key in ("dataset", "target") if request.GET.get(key)}
        return redirect(reverse("mlmodels:model-list") + (f"?{urlencode(back)}" if back else ""))
    task = models[0].task
    rows = []
    for key, label, higher_is_better in COMPARED_METRICS[task]:
        if key == "baseline":
            values = [
                (ml_metrics.majority_baseline((model.metrics or {}).get("confusion_matrix") or {}) or {}).get(
                    "accuracy"
                )
                for model in models
            ]
        else:
            values = [(model.metrics or {}).get(key) for model in models]
        present = [value for value in values if value is not None]
        best = None
        if higher_is_better is not None and len(present) > 1:
            best = max(present) if higher_is_better else min(present)
        rows.append({"label": label, "cells": [{"value": value, "best": value == best} for value in values]})
    return render(
        request,
        "mlmodels/model_compare.html",
        {
            "models": models,
            "rows": rows,
            "task": task,
            "first": models[0],
            "roc_curves": [
                {"name": str(model), "roc": model.metrics.get("roc_curve")}
                for model in models
                if (model.metrics or {}).get("roc_curve")
            ],
            "importances": [
                {"name": str(model), "rows": model.metrics.get("feature_importance") or []}
                for model in models
            ],
        },
    )


def predict_url(model: TrainedModel) -> str:
    return reverse("predictions:predict", args=[model.pk])


def _confusion_rows(confusion: dict[str, Any]) -> list[dict[str, Any]]:
    matrix = confusion.get("matrix") or []
    largest = max((max(row) for row in matrix if row), default=0) or 1
    rows = []
    for label, counts in zip(confusion.get("labels", []), matrix, strict=False):
        cells = []
        for count in counts:
            alpha = 0.85 * count / largest
            text = "#fff" if alpha > 0.5 else "inherit"
            cells.append(
                {"count": count, "style": f"background-color: rgba(13, 110, 253, {alpha:.2f}); color: {text}"}
            )
        rows.append({"label": label, "cells": cells, "total": sum(counts)})
    return rows


def _duration(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min: how long, at a glance."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# Below this percent an estimate of the time left is mostly noise (reading, preparing).
ESTIMATE_FROM_PERCENT = 10


def training_clock(model: TrainedModel) -> dict[str, str | None]:
    """How long a training has waited or run, and — once it is far enough along — about
    how long is left, assuming the rest goes at the pace so far."""
    if model.is_finished:
        return {"elapsed": None, "remaining": None}
    since = model.started_at or model.created_at
    elapsed = max((timezone.now() - since).total_seconds(), 0.0)
    remaining = None
    if model.started_at and ESTIMATE_FROM_PERCENT <= model.progress < 100:
        remaining = _duration(max(elapsed * (100 - model.progress) / model.progress, 1))
    return {"elapsed": _duration(elapsed), "remaining": remaining}


def _status_context(request, model: TrainedModel) -> dict[str, Any]:
    can_change = model.owner_id == request.user.pk or request.user.is_staff
    return {
        "model": model,
        "clock": training_clock(model),
        "can_cancel": can_change and not model.is_finished,
    }


@login_required
@require_GET
def model_export_mlflow(request, pk):
    """The model page's "Export to MLflow" button: the same zip as the API's."""
    model = selectors.model_get_for_user(user=request.user, pk=pk)
    try:
        archive = services.model_export_mlflow(model=model)
    except ServiceError as error:
        messages.error(request, error.detail)
        return redirect("mlmodels:model-detail", pk=model.pk)
    return FileResponse(
        archive,
        as_attachment=True,
        filename=services.mlflow_export_filename(model),
        content_type="application/zip",
    )


@login_required
@require_GET
def model_detail(request, pk):
    model = selectors.model_get_for_user(user=request.user, pk=pk)
    return _render_model_detail(request, model)


def _render_model_detail(request, model: TrainedModel, settings_form=None, status: int = 200):
    metrics = model.metrics or {}
    is_owner = model.owner_id == request.user.pk
    can_change = is_owner or request.user.is_staff
    if settings_form is None and can_change:
        settings_form = ModelSettingsForm(model=model, user=request.user)
    card = selectors.model_card(model=model) if model.status == TrainedModel.Status.READY else None
    # Drift tells about the data of the model's users: its owner and staff only.
    drift = None
    if can_change and model.status == TrainedModel.Status.READY and model.feature_schema:
        drift = DriftSerializer(selectors.model_drift(model=model)).data
    return render(
        request,
        "mlmodels/model_detail.html",
        {
            "settings_form": settings_form,
            "can_change": can_change,
            **_status_context(request, model),
            "model": model,
            "metrics": metrics,
            "confusion": _confusion_rows(metrics.get("confusion_matrix") or {}),
            "baseline": ml_metrics.majority_baseline(metrics.get("confusion_matrix") or {}),
            "card": card,
            "drift": drift,
            "prediction_chart": [{"name": "Predictions", "bins": drift["predictions"]["bins"]}]
            if drift and drift["predictions"]
            else [],
            # "Try the example" sends the example row as the predict page's JSON input.
            "example_json": json.dumps(card.example) if card and card.example else "",
            "example_key": uuid.uuid4().hex,
            "predict_url": predict_url(model)
            if selectors.model_prediction_refusal(user=request.user, model=model) is None
            else None,
            "can_delete": is_owner or request.user.is_staff,
            "is_owner": is_owner,
            "webhook_deliveries": webhook_deliveries_for_job(
                user=request.user, resource=Resource.MODEL, job_id=model.pk
            ),
            "versions": selectors.model_versions(model=model, user=request.user),
            "fee_refunded": model.ledger_entries.filter(kind="refund").exists() if is_owner else False,
            "train_again_query": urlencode(
                {
                    "dataset": model.dataset_id or "",
                    "name": model.name,
                    "target": model.target,
                    "algorithm": model.algorithm.key,
                }
            ),
        },
        status=status,
    )


@login_required
@require_POST
def model_settings(request, pk):
    """The owner's (or staff's) description, card and private prices, from the model page."""
    model = selectors.model_get_owned(user=request.user, pk=pk)
    form = ModelSettingsForm(request.POST, model=model, user=request.user)
    if form.is_valid():
        changes = form.changes()
        try:
            if changes:
                services.model_update(model=model, by=request.user, **changes)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Saved the settings of “{model}”." if changes else "Nothing changed.")
            return redirect("mlmodels:model-detail", pk=model.pk)
    return _render_model_detail(request, model, settings_form=form, status=400)


@login_required
@require_POST
def model_activate(request, pk):
    """Make this version the active one of its name (it stays so when newer versions
    are trained), from the model page."""
    model = selectors.model_get_owned(user=request.user, pk=pk)
    try:
        services.model_update(model=model, by=request.user, is_active=True)
    except ServiceError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, f"“{model}” is now the active version of {model.name}.")
    return redirect("mlmodels:model-detail", pk=model.pk)


@login_required
@require_GET
def model_status(request, pk):
    model = selectors.model_get_for_user(user=request.user, pk=pk)
    context = {**_status_context(request, model), "oob": is_htmx(request)}
    return finished_partial(
        request, "mlmodels/model_status_partial.html", context, finished=model.is_finished
    )


@login_required
@require_POST
def model_delete(request, pk):
    model = selectors.model_get_owned(user=request.user, pk=pk)
    services.model_delete(model=model)
    messages.success(request, f"Deleted the model “{model}”.")
    return redirect("mlmodels:model-list")


@login_required
@require_POST
def model_cancel(request, pk):
    model = selectors.model_get_owned(user=request.user, pk=pk)
    try:
        model = services.model_cancel(model=model)
    except ServiceError as error:
        messages.error(request, error.detail)
    else:
        refunded = f" The fee of {model.training_fee} coins was refunded." if model.training_fee else ""
        messages.success(request, f"Training of “{model}” canceled.{refunded}")
    return redirect("mlmodels:model-detail", pk=model.pk)


def _train_initial(request) -> dict[str, Any]:
    """Initial values for a re-rendered train form: what the page sends, except the
    hyperparameters when the algorithm just changed (they reset to its defaults)."""
    initial: dict[str, Any] = {key: request.GET.get(key) for key in request.GET if key != "features"}
    changed = request.headers.get("HX-Trigger-Name")
    # The boxes the page sent (none checked is a choice too), unless the dataset or the
    # target changed: then every column starts checked again (TrainForm's defaults).
    if "idempotency_key" in request.GET and changed not in ("dataset", "target"):
        initial["features"] = request.GET.getlist("features")
    if changed == "algorithm":
        initial = {key: value for key, value in initial.items() if not key.startswith(HP_PREFIX)}
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def model_train(request):
    if request.method == "POST":
        form = TrainForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                model = services.model_train(
                    user=request.user,
                    idempotency_key=form.cleaned_data.get("idempotency_key") or None,
                    **form.service_arguments(),
                ).model
            except ServiceError as error:
                form.add_service_error(error)
            else:
                fee = f"{model.training_fee} coins were charged" if model.training_fee else "training is free"
                messages.success(request, f"Training “{model}” has started; {fee}.")
                return redirect("mlmodels:model-detail", pk=model.pk)
        else:
            # The fields the form could read are checked by the service in the same
            # pass, so every error shows at once (nothing is charged by a check).
            try:
                services.training_validate(user=request.user, **form.service_arguments())
            except ServiceError as error:
                form.add_service_error(error)
    else:
        initial = _train_initial(request)
        form = TrainForm(initial=initial, user=request.user)
        hyperparameters_sent = any(key.startswith(HP_PREFIX) for key in initial)
        for name in form.hyperparameter_names:
            # An unchecked box is not sent at all: when the page sent its
            # hyperparameters, a missing box means "off", not "default".
            if hyperparameters_sent and form.fields[name].__class__.__name__ == "BooleanField":
                form.initial[name] = name in initial
        if is_htmx(request):
            return render(request, "mlmodels/train_form_partial.html", _train_context(request, form))
    return render(request, "mlmodels/train.html", _train_context(request, form))


def _train_context(request, form: TrainForm) -> dict[str, Any]:
    return {
        "form": form,
        "balance": balance_for_user(user=request.user),
        "algorithm": form.chosen_algorithm,
        "has_datasets": form.fields["dataset"].queryset.exists(),
    }
