from django import forms

from mlservice.errors import ServiceError


def add_service_error(form: forms.Form, error: ServiceError) -> None:
    """Show a service's error on the form: each field's messages next to that field
    (when the form has it), the rest at the top."""
    placed = False
    for field, messages in error.errors.items():
        name = field.split(".")[0] if field.split(".")[0] in form.fields else None
        for message in messages:
            if name is not None:
                label = field.split(".", 1)[1] + ": " if "." in field else ""
                form.add_error(name, label + message)
                placed = True
    if not placed:
        form.add_error(None, error.detail)
