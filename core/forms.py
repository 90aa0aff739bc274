import uuid

from django import forms

from core.errors import ServiceError


def add_service_error(form: forms.Form, error: ServiceError) -> None:
    """Show a service's error on the form: each field's messages next to that field
    when the form has it. When none fits a field, the error's summary goes at the top;
    when some did, every message for a field the form lacks goes at the top, named by
    its field, so no message is lost."""
    if "Idempotency-Key" in error.errors and isinstance(form, IdempotentForm):
        form.key_reused()
        return
    elsewhere: list[str] = []
    placed = False
    for field, messages in error.errors.items():
        name, _, detail = field.partition(".")
        for message in messages:
            if name in form.fields:
                form.add_error(name, f"{detail}: {message}" if detail else message)
                placed = True
            else:
                elsewhere.append(message if field == "non_field_errors" else f"{field}: {message}")
    if not placed:
        form.add_error(None, error.detail)
        return
    for message in elsewhere:
        form.add_error(None, message)


class IdempotentForm(forms.Form):
    """A form for a paid action: a key generated when the page is shown is sent as the
    service's Idempotency-Key, so a double click or a resubmitted page acts (and
    charges) once."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)
    reused_message = "This form was already sent with other values. Submit again to send these as new."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)

    @property
    def key(self) -> str | None:
        return (self.cleaned_data.get("idempotency_key") or None) if hasattr(self, "cleaned_data") else None

    def key_reused(self) -> None:
        """The page was sent before with other values (the back button): a new key
        lets the user send these as a new request."""
        self.data = self.data.copy()
        self.data[self.add_prefix("idempotency_key")] = uuid.uuid4().hex
        self.add_error(None, self.reused_message)
