from django.contrib import admin

from core.models import IdempotencyKey


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that are evidence — the ledger, jobs, stored answers: operators read
    them; only the services write them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    """The first answer to an Idempotency-Key, as the client was given it."""

    list_display = ("created_at", "user", "scope", "key", "response_status")
    list_filter = ("scope",)
