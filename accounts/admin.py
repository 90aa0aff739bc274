from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.views import PasswordChangeView
from django.db.models import F
from django.shortcuts import render
from django.urls import reverse

from accounts.forms import AdminOwnPasswordChangeForm, AdminSetPasswordForm
from accounts.models import User
from billing.forms import GrantCoinsForm
from billing.services import account_grant
from core.errors import ServiceError


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "balance", "is_staff", "is_active", "date_joined")
    list_select_related = ("coin_account",)
    actions = ["grant_coins"]
    change_password_form = AdminSetPasswordForm

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
