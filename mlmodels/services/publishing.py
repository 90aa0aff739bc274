"""What owners and staff do with trained models: delete, choose the active version,
describe, price, publish. Owners run their own versions (which one is active, its
description and card, the price of a private model); staff also decide what is public
and its price (issue 14)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.models import MAX_PRICE
from core.errors import InvalidInput, NotAllowed
from core.jobs.lifecycle import QUEUED, RUNNING
from mlmodels.models import DESCRIPTION_MAX_LENGTH, MODEL_CARD_MAX_LENGTH, TrainedModel
from mlmodels.services.files import remove_media_file
from mlmodels.services.training_job import training_fail


def model_delete(*, model: TrainedModel) -> None:
    """Soft delete: the row stays for the ledger, the artifact file goes, the version is
    no longer active. A model deleted before its training finished is failed and its
    fee refunded (its result would be thrown away)."""
    with transaction.atomic():
        updated = TrainedModel.objects.filter(pk=model.pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now(), is_active=False, active_pinned=False
        )
        if not updated:
            return
        training_fail(
            model_id=model.pk,
            error="Deleted before training finished; the fee was refunded.",
            states=(QUEUED, RUNNING),
        )
        artifact_name, upload = model.artifact, model.import_upload
        transaction.on_commit(lambda: remove_media_file(artifact_name))
        # An import deleted before its check ran leaves its uploaded file behind otherwise.
        transaction.on_commit(lambda: remove_media_file(upload))
    model.refresh_from_db()


def _require_ready(model: TrainedModel, field: str, action: str) -> None:
    if model.deleted_at is not None:
        raise InvalidInput(f"A deleted model cannot be {action}.", {field: ["the model was deleted"]})
    if model.status != TrainedModel.Status.READY:
        message = f"Only a ready model can be {action}; this one is {model.status}."
        raise InvalidInput(message, {field: [message]})


def model_set_active(*, model: TrainedModel) -> TrainedModel:
    """Make ``model`` the active version of its name, pinned: a newer version that
    becomes ready later does not replace it (mlmodels.services.training_job). Its owner's
    choice or staff's. Deactivates the others in the same transaction."""
    _require_ready(model, "is_active", "made active")
    with transaction.atomic():
        TrainedModel.objects.filter(owner_id=model.owner_id, name=model.name, is_active=True).exclude(
            pk=model.pk
        ).update(is_active=False, active_pinned=False)
        TrainedModel.objects.filter(pk=model.pk).update(is_active=True, active_pinned=True)
    model.refresh_from_db()
    return model


def model_deactivate(*, model: TrainedModel) -> TrainedModel:
    """No version of this name is active until another is made active or becomes ready."""
    TrainedModel.objects.filter(pk=model.pk).update(is_active=False, active_pinned=False)
    model.refresh_from_db()
    return model


# Decimal places of each price: per row may be a fraction of a cent, per request not.
PRICE_DECIMALS = {"price_per_row": 4, "price_per_request": 2}


def _price(value: Any, field: str) -> Decimal:
    places = PRICE_DECIMALS[field]
    step = Decimal(1).scaleb(-places)
    try:
        price = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{field}: not a number.", {field: ["A valid number is required."]}) from None
    if isinstance(value, (bool, float)) or not price.is_finite():
        raise InvalidInput(f"{field}: not a number.", {field: ['Send a decimal string such as "0.01".']})
    if price < 0:
        raise InvalidInput(f"{field}: must not be negative.", {field: ["Must be 0 or more."]})
    if price != price.quantize(step):
        raise InvalidInput(f"{field}: too many decimals.", {field: [f"Use at most {places} decimal places."]})
    if price > MAX_PRICE:
        raise InvalidInput(f"{field}: at most {MAX_PRICE} coins.", {field: [f"Must be at most {MAX_PRICE}."]})
    return price.quantize(step)


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be text.", {field: ["Send a string."]})
    text = value.strip()
    if len(text) > limit:
        message = f"At most {limit:,} characters (this is {len(text):,})."
        raise InvalidInput(f"{field}: too long.", {field: [message]})
    if "\x00" in text:
        raise InvalidInput(f"{field}: contains a NUL character.", {field: ["Remove the NUL character."]})
    return text


def _owner_may(model: TrainedModel, *, by, changes: dict[str, Any]) -> None:
    """What an owner (not staff) may change; NotAllowed (403) naming the rule otherwise.
    Staff decide what is public, the price of what is public, and which version of a
    public model is active."""
    if model.owner_id != by.pk:
        raise NotAllowed("Only its owner or staff can change this model.")
    if "is_public" in changes:
        message = "Only staff decide what is in the public catalog."
        raise NotAllowed(message, {"is_public": [message]})
    priced = [field for field in PRICE_DECIMALS if field in changes]
    if priced and model.is_public:
        message = "This version is in the public catalog: staff set its price."
        raise NotAllowed(message, {field: [message] for field in priced})
    wanted = changes.get("is_active")
    if wanted is not None and wanted != model.is_active:
        public = model if model.is_public else None
        if wanted and public is None:
            current = (
                TrainedModel.objects.filter(
                    owner_id=model.owner_id, name=model.name, is_active=True, deleted_at__isnull=True
                )
                .exclude(pk=model.pk)
                .first()
            )
            public = current if current is not None and current.is_public else None
        if public is not None:
            message = f"{public} is in the public catalog: staff choose which version of it is active."
            raise NotAllowed(message, {"is_active": [message]})


def model_update(*, model: TrainedModel, by, **changes: Any) -> TrainedModel:
    """The one way to change a model's settings, for the API's PATCH, the model page and
    the admin: ``is_active``, ``description``, ``model_card``, ``price_per_row`` and
    ``price_per_request`` by its owner (prices only while it is private) or staff;
    ``is_public`` by staff only. NotAllowed (403) for what ``by`` may not change,
    InvalidInput (400) for a bad value; nothing is written unless all of it is allowed."""
    if not getattr(by, "is_staff", False):
        _owner_may(model, by=by, changes=changes)
    return model_update_by_staff(model=model, **changes)


def model_update_by_staff(
    *,
    model: TrainedModel,
    is_public: bool | None = None,
    price_per_row: Any = None,
    price_per_request: Any = None,
    is_active: bool | None = None,
    description: Any = None,
    model_card: Any = None,
) -> TrainedModel:
    """Apply the changes with staff's rights (model_update checks an owner's first).
    Publishing makes the version active too: the public catalog lists active versions
    only, and a published version is never replaced automatically."""
    if is_public and is_active is False:
        raise InvalidInput(
            "A published version must be the active one.",
            {"is_active": ["Publishing makes this version active; do not send is_active false with it."]},
        )
    fields: dict[str, Any] = {}
    if price_per_row is not None:
        fields["price_per_row"] = _price(price_per_row, "price_per_row")
    if price_per_request is not None:
        fields["price_per_request"] = _price(price_per_request, "price_per_request")
    if description is not None:
        fields["description"] = " ".join(_text(description, "description", DESCRIPTION_MAX_LENGTH).split())
    if model_card is not None:
        fields["model_card"] = _text(model_card, "model_card", MODEL_CARD_MAX_LENGTH)
    if is_public:
        _require_ready(model, "is_public", "published")
    if is_active:
        _require_ready(model, "is_active", "made active")
    with transaction.atomic():
        if fields:
            TrainedModel.objects.filter(pk=model.pk).update(**fields)
        if is_active or (is_public and not model.is_active):
            model_set_active(model=model)
        elif is_active is False and model.is_active:
            model_deactivate(model=model)
        if is_public is not None:
            TrainedModel.objects.filter(pk=model.pk).update(is_public=is_public)
            if is_public:
                TrainedModel.objects.filter(pk=model.pk).update(active_pinned=True)
    model.refresh_from_db()
    return model
