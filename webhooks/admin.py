"""Operators read webhook deliveries and their attempts; nobody edits them here."""

from django.contrib import admin

from webhooks.models import WebhookAttempt, WebhookDelivery


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "attempted_at", "status_code", "duration_ms", "succeeded", "error", "response_body"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["message_id", "job", "event", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "event", "subscription__resource"]
    search_fields = ["message_id", "subscription__url", "subscription__owner__username"]
    list_select_related = ["subscription"]
    # The secret is not shown: signing is the worker's business.
    fields = [
        "message_id",
        "job",
        "url",
        "owner",
        "event",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "finished_at",
        "body",
    ]
    readonly_fields = fields
    inlines = [WebhookAttemptInline]

    @admin.display(description="job")
    def job(self, delivery):
        return f"{delivery.subscription.resource} #{delivery.subscription.job_id}"

    @admin.display(description="URL")
    def url(self, delivery):
        return delivery.subscription.url

    @admin.display(description="owner")
    def owner(self, delivery):
        return delivery.subscription.owner

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
