from django.contrib import admin

from billing.models import CoinAccount, LedgerEntry
from core.admin import ReadOnlyAdmin

# Money is never edited by hand: balances move only through billing.services (use the
# "Grant coins" action on users).


@admin.register(CoinAccount)
class CoinAccountAdmin(ReadOnlyAdmin):
    list_display = ("user", "balance", "updated_at")
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "user",
        "kind",
        "amount",
        "balance_after",
        "memo",
        "prediction",
        "model",
        "created_by",
    )
    list_filter = ("kind", ("created_at", admin.DateFieldListFilter), "account__user")
    search_fields = ("account__user__username", "memo")
    list_select_related = ("account__user", "created_by")
    date_hierarchy = "created_at"
    raw_id_fields = ("prediction", "model", "refund_of")

    @admin.display(description="User", ordering="account__user__username")
    def user(self, entry):
        return entry.account.user
