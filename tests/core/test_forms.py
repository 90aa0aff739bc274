"""add_service_error: a service's messages on a web form, none of them lost."""

from django import forms

from core.errors import InvalidInput
from core.forms import add_service_error


class AmountForm(forms.Form):
    amount = forms.DecimalField(required=False)


def test_messages_for_fields_the_form_lacks_are_shown_at_the_top_beside_placed_ones():
    form = AmountForm(data={})
    assert form.is_valid()
    error = InvalidInput(
        "Invalid input: amount, Idempotency-Key.",
        {"amount": ["Must be positive."], "dataset": ["The dataset was deleted."]},
    )

    add_service_error(form, error)

    assert form.errors["amount"] == ["Must be positive."]
    assert form.non_field_errors() == ["dataset: The dataset was deleted."]


def test_when_no_message_fits_a_field_the_summary_is_shown():
    form = AmountForm(data={})
    assert form.is_valid()

    add_service_error(form, InvalidInput("Not enough coins.", {"balance": ["3.00"]}))

    assert form.non_field_errors() == ["Not enough coins."]


def test_a_dotted_field_lands_on_its_form_field_with_its_name():
    form = AmountForm(data={})
    assert form.is_valid()

    add_service_error(form, InvalidInput("amount.cents: too many.", {"amount.cents": ["Too many."]}))

    assert form.errors["amount"] == ["cents: Too many."]
