from django.contrib import admin
from django.core.validators import MaxValueValidator, MinValueValidator

from billing.models import MAX_PRICE, CoinAccount, LedgerEntry
from core.admin import ReadOnlyAdmin


class PriceFieldsAdminMixin:
    """Bounds the price fields named in ``price_fields`` to 0..MAX_PRICE on the change
    form and in list_editable alike (both build their fields here)."""

    price_fields: tuple[str, ...] = ()

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None and db_field.name in self.price_fields:
            formfield.validators += [MinValueValidator(0), MaxValueValidator(MAX_PRICE)]
            # Narrow enough for two prices side by side in a list at 1366 px.
            formfield.widget.attrs.update({"min": "0", "max": str(MAX_PRICE), "style": "width: 6em"})
            formfield.help_text = f"Coins, at most {MAX_PRICE}."
        return formfield


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
