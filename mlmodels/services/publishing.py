"""What owners and staff do with trained models: delete, choose the active version,
publish, set the price."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.models import MAX_PRICE
from core.errors import InvalidInput
from core.jobs.lifecycle import QUEUED, RUNNING
from mlmodels.models import TrainedModel
from mlmodels.services.files import remove_media_file
from mlmodels.services.training_job import training_fail


def model_delete(*, model: TrainedModel) -> None:
    """Soft delete: the row stays for the ledger, the artifact file goes, the version is
    no longer active. A model deleted before its training finished is failed and its
    fee refunded (its result would be thrown away)."""
    with transaction.atomic():
        updated = TrainedModel.objects.filter(pk=model.pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now(), is_active=False, active_set_by_staff=False
        )
        if not updated:
            return
        training_fail(
            model_id=model.pk,
            error="Deleted before training finished; the fee was refunded.",
            states=(QUEUED, RUNNING),
        )
        artifact_name = model.artifact
        transaction.on_commit(lambda: remove_media_file(artifact_name))
    model.refresh_from_db()


def _require_ready(model: TrainedModel, field: str, action: str) -> None:
    if model.deleted_at is not None:
        raise InvalidInput(f"A deleted model cannot be {action}.", {field: ["the model was deleted"]})
    if model.status != TrainedModel.Status.READY:
        message = f"Only a ready model can be {action}; this one is {model.status}."
        raise InvalidInput(message, {field: [message]})


def model_set_active(*, model: TrainedModel) -> TrainedModel:
    """Make ``model`` the active version of its name (staff's choice: a newer version
    that becomes ready later does not replace it). Deactivates the others in the same
    transaction."""
    _require_ready(model, "is_active", "made active")
    with transaction.atomic():
        TrainedModel.objects.filter(owner_id=model.owner_id, name=model.name, is_active=True).exclude(
            pk=model.pk
        ).update(is_active=False, active_set_by_staff=False)
        TrainedModel.objects.filter(pk=model.pk).update(is_active=True, active_set_by_staff=True)
    model.refresh_from_db()
    return model


def model_deactivate(*, model: TrainedModel) -> TrainedModel:
    """No version of this name is active until another is made active or becomes ready."""
    TrainedModel.objects.filter(pk=model.pk).update(is_active=False, active_set_by_staff=False)
    model.refresh_from_db()
    return model


def _price_per_row(value: Any) -> Decimal:
    field = "price_per_row"
    try:
        price = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput("price_per_row: not a number.", {field: ["A valid number is required."]}) from None
    if isinstance(value, (bool, float)) or not price.is_finite():
        raise InvalidInput("price_per_row: not a number.", {field: ['Send a decimal string such as "0.01".']})
    if price < 0:
        raise InvalidInput("price_per_row: must not be negative.", {field: ["Must be 0 or more."]})
    if price != price.quantize(Decimal("0.0001")):
        raise InvalidInput("price_per_row: too many decimals.", {field: ["Use at most 4 decimal places."]})
    if price > MAX_PRICE:
        raise InvalidInput(
            f"price_per_row: at most {MAX_PRICE} coins.", {field: [f"Must be at most {MAX_PRICE}."]}
        )
    return price.quantize(Decimal("0.0001"))


def model_update_by_staff(
    *,
    model: TrainedModel,
    is_public: bool | None = None,
    price_per_row: Any = None,
    is_active: bool | None = None,
) -> TrainedModel:
    """Staff publish or unpublish a model, set its price per row and choose the active
    version. Publishing makes the version active too: the public catalog lists active
    versions only, and a published version is never replaced automatically."""
    if is_public and is_active is False:
        raise InvalidInput(
            "A published version must be the active one.",
            {"is_active": ["Publishing makes this version active; do not send is_active false with it."]},
        )
    price = _price_per_row(price_per_row) if price_per_row is not None else None
    if is_public:
        _require_ready(model, "is_public", "published")
    if is_active:
        _require_ready(model, "is_active", "made active")
    with transaction.atomic():
        if price is not None:
            TrainedModel.objects.filter(pk=model.pk).update(price_per_row=price)
        if is_active or (is_public and not model.is_active):
            model_set_active(model=model)
        elif is_active is False and model.is_active:
            model_deactivate(model=model)
        if is_public is not None:
            TrainedModel.objects.filter(pk=model.pk).update(is_public=is_public)
            if is_public:
                TrainedModel.objects.filter(pk=model.pk).update(active_set_by_staff=True)
    model.refresh_from_db()
    return model
