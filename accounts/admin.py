from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse

from accounts.forms import AdminOwnPasswordChangeForm, AdminSetPasswordForm
from accounts.models import User
from billing.forms import GrantCoinsForm
from billing.selectors import ledger_for_user
from billing.services import account_grant
from core.errors import ServiceError


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "balance", "is_staff", "is_active", "date_joined")
    list_select_related = ("coin_account",)
    actions = ["grant_coins"]
    change_password_form = AdminSetPasswordForm
    # A user's page starts with their coins: the balance, the last entries of their
    # ledger, and a "Grant coins" button (templates/admin/accounts/user/change_form.html).
    coin_fields = ("balance_now", "recent_ledger")
    readonly_fields = coin_fields
    recent_ledger_size = 10

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [("Coins", {"fields": self.coin_fields}), *fieldsets]

    @admin.display(description="Balance")
    def balance_now(self, user) -> str:
        return f"{user.coin_account.balance} coins"

    @admin.display(description="Recent ledger")
    def recent_ledger(self, user) -> str:
        entries = ledger_for_user(user=user).select_related("created_by")[: self.recent_ledger_size]
        return render_to_string(
            "admin/accounts/user/recent_ledger.html",
            {
                "entries": entries,
                "all_url": reverse("admin:billing_ledgerentry_changelist")
                + f"?account__user__id__exact={user.pk}",
            },
        )

    def get_urls(self):
        grant = path(
            "<path:object_id>/grant-coins/",
            self.admin_site.admin_view(self.grant_coins_view),
            name="accounts_user_grant_coins",
        )
        return [grant, *super().get_urls()]

    def grant_coins_view(self, request, object_id):
        """One user's "Grant coins" page; the grant goes through billing.services."""
        user = self.get_object(request, object_id)
        if user is None:
            raise Http404("No such user.")
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        form = GrantCoinsForm(request.POST or None)
        change_url = reverse("admin:accounts_user_change", args=[user.pk])
        if request.method == "POST" and form.is_valid():
            try:
                entry = account_grant(
                    user=user,
                    amount=form.cleaned_data["amount"],
                    granted_by=request.user,
                    memo=form.cleaned_data["memo"],
                )
            except ServiceError as error:
                form.add_error("amount", error.detail)
            else:
                self.message_user(
                    request,
                    f"Granted {entry.amount} coins to {user.username}: the balance is now {entry.balance_after}.",
                    messages.SUCCESS,
                )
                return redirect(change_url)
        return render(
            request,
            "admin/accounts/grant_coins.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Grant coins to {user.username}",
                "form": form,
                "users": [user],
                "single_user": user,
                "cancel_url": change_url,
                "opts": self.model._meta,
            },
        )

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        # Django redirects to the user's page after a change (to this page on a refusal).
        if (
            request.method == "POST"
            and response.status_code == 302
            and response.url != request.get_full_path()
        ):
            self.message_user(request, "Their API token was replaced too: the old one no longer works.")
        return response

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


class AdminPasswordChangeView(PasswordChangeView):
    """The admin's own "Change password" page (mounted over the admin site's in
    mlservice/urls.py, whose form class cannot be set): the old password is checked
    behind the login guard, and the operator's API token is replaced."""

    form_class = AdminOwnPasswordChangeForm
    template_name = "registration/password_change_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def get_success_url(self):
        return reverse("admin:password_change_done")

    def get_context_data(self, **kwargs):
        return {**admin.site.each_context(self.request), **super().get_context_data(**kwargs)}

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Your API token was replaced too: the old one no longer works.")
        return response
