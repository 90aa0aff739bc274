from django import forms
from django.contrib.admin import forms as admin_forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm
from django.db import transaction

from accounts import services
from core.errors import ServiceError


class RegisterForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="Letters, digits and @/./+/-/_ only.")
    email = forms.EmailField(required=False, help_text="Optional.")
    password1 = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean_username(self):
        # The registration service's own rule, checked early so every problem shows at once.
        username = self.cleaned_data["username"].strip()
        problems = services.username_problems(username)
        if problems:
            raise forms.ValidationError(problems)
        return username

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class LoginGuardMixin:
    """For a subclass of Django's AuthenticationForm: the same ``clean`` with the
    password checked by ``services.login_authenticate``, behind the login guard."""

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = services.login_authenticate(
                    request=self.request, username=username, password=password
                )
            except ServiceError as error:
                raise forms.ValidationError(error.detail, code="throttled") from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class GuardedAuthenticationForm(LoginGuardMixin, AuthenticationForm):
    """The site's login form (and the browsable API's), behind the login guard."""


class GuardedAdminAuthenticationForm(LoginGuardMixin, AdminAuthenticationForm):
    """The admin's login form (staff only), behind the login guard."""


class OldPasswordGuardMixin:
    """For a subclass of Django's PasswordChangeForm: the old password is checked behind
    the login guard, so a borrowed session cannot guess it either. Needs the request
    (``request=`` keyword)."""

    def __init__(self, user, *args, request, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        try:
            user = services.login_authenticate(
                request=self.request, username=self.user.get_username(), password=old_password
            )
        except ServiceError as error:
            raise forms.ValidationError(error.detail, code="throttled") from None
        if user is None or user.pk != self.user.pk:
            raise forms.ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


class TokenReplacingMixin:
    """For a form that sets a user's password: saving it replaces their API token."""

    def save(self, commit=True):
        with transaction.atomic():
            user = super().save(commit=commit)
            if commit:
                services.user_password_changed(user=user)
        return user


class PasswordChangeForm(OldPasswordGuardMixin, TokenReplacingMixin, auth_forms.PasswordChangeForm):
    """The profile page's password change."""


class AdminOwnPasswordChangeForm(
    OldPasswordGuardMixin, TokenReplacingMixin, admin_forms.AdminPasswordChangeForm
):
    """The admin's "Change password" of the operator's own password."""


class AdminSetPasswordForm(TokenReplacingMixin, auth_forms.AdminPasswordChangeForm):
    """The admin's "Change password" of any user (no old password asked)."""
