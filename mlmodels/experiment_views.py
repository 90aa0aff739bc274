"""Web pages of experiments: the list, "Find the best model", an experiment's live
page with its leaderboard, cancel and promote. Each view parses, calls one service or
selector and renders; the rules and the money are the services'."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.selectors import balance_for_user
from core.errors import ServiceError
from core.forms import add_service_error
from mlmodels import selectors, services
from mlmodels.experiment_forms import ExperimentForm, PromoteForm, metric_label
from mlmodels.ml.crossval import GREATER_IS_BETTER, METRICS
from mlmodels.models import Experiment, ExperimentTrial, TrainedModel
from mlmodels.views import PAGE_SIZE, finished_partial, is_htmx, predict_url
from webhooks.models import Resource
from webhooks.selectors import webhook_deliveries_for_job

# Hyperparameters shown in a leaderboard cell; the rest are in the cell's title.
SHOWN_HYPERPARAMETERS = 3


@login_required
@require_GET
def experiment_list(request):
    page = Paginator(selectors.experiment_list_for_user(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for experiment in page:
        experiment.metric_label = metric_label(experiment.metric)
    return render(request, "mlmodels/experiment_list.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def experiment_new(request):
    if request.method == "POST":
        form = ExperimentForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                submission = services.experiment_start(
                    user=request.user, idempotency_key=form.key, **form.service_arguments()
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                experiment = submission.experiment
                charged = f"{experiment.cost} coins were charged" if experiment.cost else "it is free"
                messages.success(
                    request,
                    f"Experiment #{experiment.pk} is queued: up to {experiment.max_trials} trials; {charged}. "
                    "The trials it does not run are refunded when it ends.",
                )
                return redirect("mlmodels:experiment-detail", pk=experiment.pk)
    else:
        initial = {key: request.GET.get(key) for key in request.GET if key != "algorithms"}
        if request.GET.getlist("algorithms"):
            initial["algorithms"] = request.GET.getlist("algorithms")
        form = ExperimentForm(initial=initial, user=request.user)
        if is_htmx(request):
            return render(request, "mlmodels/experiment_form_partial.html", _new_context(request, form))
    return render(request, "mlmodels/experiment_new.html", _new_context(request, form))


def _new_context(request, form: ExperimentForm) -> dict[str, Any]:
    price = services.experiment_price_per_trial()
    trials = str(form["max_trials"].value() or "")
    return {
        "form": form,
        "balance": balance_for_user(user=request.user),
        "price_per_trial": price,
        # What the page would be charged (experiments.js keeps it in step as one types).
        "cost": price * int(trials) if trials.isdigit() else None,
        "has_datasets": form.fields["dataset"].queryset.exists(),
    }


def _compact_hyperparameters(hyperparameters: dict[str, Any]) -> tuple[str, str]:
    """("C=0.52, penalty=l2, solver=lbfgs …", every name=value) for a table cell."""

    def shown(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}"
        return "none" if value is None else str(value)

    pairs = [f"{name}={shown(value)}" for name, value in hyperparameters.items()]
    short = ", ".join(pairs[:SHOWN_HYPERPARAMETERS]) + (" …" if len(pairs) > SHOWN_HYPERPARAMETERS else "")
    return short or "defaults", ", ".join(pairs) or "the algorithm's defaults"


def _leaderboard_rows(
    experiment: Experiment, board: list[selectors.LeaderboardRow], can_promote: bool
) -> list[dict[str, Any]]:
    algorithms = {algorithm.key: algorithm for algorithm in selectors.algorithm_list()}
    other_metrics = [metric for metric in METRICS.get(experiment.task, []) if metric != experiment.metric]
    rows = []
    for row in board:
        trial = row.trial
        algorithm = algorithms.get(trial.algorithm)
        short, full = _compact_hyperparameters(trial.hyperparameters)
        complete = trial.state == ExperimentTrial.State.COMPLETE
        rows.append(
            {
                "rank": row.rank if complete and trial.cv_mean is not None else None,
                "trial": trial,
                "algorithm_name": algorithm.name if algorithm else trial.algorithm,
                "hyperparameters": short,
                "hyperparameters_title": full,
                "others": [
                    {"label": metric_label(metric), "score": trial.scores.get(metric) or {}}
                    for metric in other_metrics
                ],
                "is_best": trial.number == experiment.best_trial,
                "price": algorithm.training_price if algorithm else None,
                "promote": PromoteForm(initial={"trial": trial.number}, auto_id=False)
                if can_promote and complete
                else None,
            }
        )
    return rows


def _chart_points(experiment: Experiment, trials: list[ExperimentTrial]) -> dict[str, Any]:
    """The metric of every complete trial by its number, and the best so far."""
    greater = GREATER_IS_BETTER.get(experiment.metric, True)
    points, best_line, best = [], [], None
    for trial in sorted(trials, key=lambda trial: trial.number):
        if trial.state != ExperimentTrial.State.COMPLETE or trial.cv_mean is None:
            continue
        points.append({"x": trial.number, "y": trial.cv_mean})
        if best is None or (trial.cv_mean > best if greater else trial.cv_mean < best):
            best = trial.cv_mean
        best_line.append({"x": trial.number, "y": best})
    empty = "No trial completed" if experiment.is_finished else "No trial has finished yet"
    return {"metric": metric_label(experiment.metric), "points": points, "best": best_line, "empty": empty}


# Why a search ended (Experiment.stopped_because), in words.
STOPPED_BECAUSE = {
    "max_trials": "it ran every trial allowed",
    "time_budget": "its time budget was spent",
    "stopped": "canceled",
    "canceled": "canceled",
    "search_space_exhausted": "no untried combination was left",
}


def _time_left(experiment: Experiment) -> int | None:
    if experiment.status != Experiment.Status.RUNNING or experiment.started_at is None:
        return None
    spent = (timezone.now() - experiment.started_at).total_seconds()
    return max(0, round(experiment.time_budget_seconds - spent))


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def _live_context(experiment: Experiment) -> dict[str, Any]:
    """What the polled part of the page shows: status, counts, leaderboard, chart data."""
    finished = experiment.is_finished
    can_promote = finished and experiment.dataset_id is not None
    time_left = _time_left(experiment)
    board = selectors.leaderboard(experiment)
    return {
        "experiment": experiment,
        "metric_name": metric_label(experiment.metric),
        "lower_is_better": not GREATER_IS_BETTER.get(experiment.metric, True),
        "other_metric_names": [
            metric_label(metric) for metric in METRICS.get(experiment.task, []) if metric != experiment.metric
        ],
        "time_left": time_left,
        "time_left_text": _duration(time_left),
        "stopped_because": STOPPED_BECAUSE.get(experiment.stopped_because, experiment.stopped_because),
        "can_promote": can_promote,
        "rows": _leaderboard_rows(experiment, board, can_promote=can_promote),
        "chart": _chart_points(experiment, [row.trial for row in board]),
        "refunded": selectors.experiment_refunded(experiment) if finished else Decimal("0.00"),
    }


def _predicts(model: TrainedModel | None) -> bool:
    return model is not None and model.status == TrainedModel.Status.READY and model.is_active


def _active_version(user, winner: TrainedModel | None) -> TrainedModel | None:
    """The version of the winner's name that predicts now, when it is not the winner
    (a promoted trial, or a later training, became the active version)."""
    if winner is None or winner.is_active:
        return None
    versions = selectors.model_versions(model=winner, user=user)
    return versions.filter(is_active=True, status=TrainedModel.Status.READY).first()


@login_required
@require_GET
def experiment_detail(request, pk):
    experiment = selectors.experiment_get_for_user(user=request.user, pk=pk)
    context = _live_context(experiment)
    best_model = experiment.best_model
    if best_model is not None and best_model.deleted_at is not None:
        best_model = None
    names = {algorithm.key: algorithm.name for algorithm in selectors.algorithm_list()}
    context.update(
        {
            "algorithm_names": [names.get(key, key) for key in experiment.algorithms],
            "best_model": best_model,
            "predict_url": predict_url(best_model) if _predicts(best_model) else None,
            "active_version": _active_version(request.user, best_model),
            "webhook_deliveries": webhook_deliveries_for_job(
                user=request.user, resource=Resource.EXPERIMENT, job_id=experiment.pk
            ),
            "promoted": experiment.models.filter(deleted_at__isnull=True)
            .exclude(pk=experiment.best_model_id)
            .select_related("algorithm")
            .order_by("-created_at")[:10],
        }
    )
    return render(request, "mlmodels/experiment_detail.html", context)


@login_required
@require_GET
def experiment_status(request, pk):
    experiment = selectors.experiment_get_for_user(user=request.user, pk=pk)
    # The leaderboard and the chart's data ride along out of band (hx-swap-oob).
    context = {**_live_context(experiment), "oob": True}
    return finished_partial(
        request, "mlmodels/experiment_status_partial.html", context, finished=experiment.is_finished
    )


@login_required
@require_POST
def experiment_cancel(request, pk):
    experiment = selectors.experiment_get_for_user(user=request.user, pk=pk)
    try:
        experiment = services.experiment_cancel(experiment=experiment)
    except ServiceError as error:
        messages.error(request, error.detail)
    else:
        if experiment.status == Experiment.Status.CANCELED:
            refunded = selectors.experiment_refunded(experiment)
            messages.success(request, f"Canceled before it started; {refunded} coins were refunded.")
        else:
            messages.info(
                request,
                "Cancel requested: the search stops after the trial it is running; "
                "the trials not run are refunded.",
            )
    return redirect("mlmodels:experiment-detail", pk=experiment.pk)


@login_required
@require_POST
def experiment_promote(request, pk):
    experiment = selectors.experiment_get_for_user(user=request.user, pk=pk)
    form = PromoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a trial of the leaderboard to promote.")
        return redirect("mlmodels:experiment-detail", pk=experiment.pk)
    try:
        model = services.experiment_promote(
            user=request.user,
            experiment=experiment,
            trial=form.cleaned_data["trial"],
            idempotency_key=form.key,
        ).model
    except ServiceError as error:
        messages.error(request, error.detail)
        return redirect("mlmodels:experiment-detail", pk=experiment.pk)
    fee = f"{model.training_fee} coins were charged" if model.training_fee else "training is free"
    messages.success(request, f"Training trial {form.cleaned_data['trial']} as “{model}” has started; {fee}.")
    return redirect("mlmodels:model-detail", pk=model.pk)
