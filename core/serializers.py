"""Serializer plumbing shared by every app's API."""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

# Sent by the browsable API's HTML forms, not by the caller.
IGNORED_FORM_FIELDS = {"csrfmiddlewaretoken", "_content_type", "_content"}


class RejectUnknownFieldsMixin:
    """An input serializer that refuses what it does not know: a body that is not an
    object is a 400, and so is a field the endpoint does not take — a typo in an
    optional field (``test_szie``) would otherwise pass silently with the default.
    Unknown fields are reported together with any other field error."""

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        allowed = ", ".join(self.fields)
        unknown = {
            name: [f"Unknown field; allowed fields are: {allowed}."]
            for name in sorted(set(data) - set(self.fields) - IGNORED_FORM_FIELDS)
        }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, dict):
                error.detail.update(unknown)
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value
