from django import forms
from django.contrib.auth.forms import AuthenticationForm

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


class GuardedAuthenticationForm(AuthenticationForm):
    """Django's login form behind the same login guard as auth/token/."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        ip = services.client_ip(self.request)
        try:
            services.login_guard_check(username=username, ip=ip)
        except ServiceError as error:
            raise forms.ValidationError(error.detail, code="throttled") from None
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            services.login_failure_record(username=username, ip=ip)
            raise
        services.login_success_record(username=username, ip=ip)
        return cleaned
