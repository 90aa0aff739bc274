from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import F
from django.shortcuts import render

from accounts.models import User
from billing.forms import GrantCoinsForm
from billing.services import account_grant
from core.errors import ServiceError


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "balance", "is_staff", "is_active", "date_joined")
    list_select_related = ("coin_account",)
    actions = ["grant_coins"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(balance_value=F("coin_account__balance"))

    @admin.display(description="Balance", ordering="balance_value")
    def balance(self, user):
        return user.balance_value

    @admin.action(description="Grant coins to the selected users")
    def grant_coins(self, request, queryset):
        # An intermediate page: the form posts back to this action with "apply" set.
        form = GrantCoinsForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            granted = 0
            for user in queryset:
                try:
                    account_grant(
                        user=user,
                        amount=form.cleaned_data["amount"],
                        granted_by=request.user,
                        memo=form.cleaned_data["memo"],
                    )
                    granted += 1
                except ServiceError as error:
                    self.message_user(request, f"{user}: {error.detail}", messages.ERROR)
            self.message_user(
                request,
                f"Granted {form.cleaned_data['amount']} coins to {granted} user(s).",
                messages.SUCCESS,
            )
            return None
        return render(
            request,
            "admin/accounts/grant_coins.html",
            {
                **self.admin_site.each_context(request),
                "title": "Grant coins",
                "form": form,
                "users": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )
