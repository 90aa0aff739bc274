from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import GuardedAuthenticationForm, PasswordChangeForm, RegisterForm
from accounts.throttles import RegistrationThrottle
from core.errors import ServiceError
from core.forms import add_service_error
from webhooks.views import profile_context as webhook_profile_context

TOKEN_REPLACED = "Your API token was replaced too: the old one no longer works, use the new one below."


class GuardedLoginView(LoginView):
    template_name = "accounts/login.html"
    authentication_form = GuardedAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, f"Welcome back, {form.get_user().username}.")
        return response


class LogoutWithMessageView(LogoutView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        # The session is gone; the message travels in the messages cookie.
        messages.info(request, "You are logged out. See you soon.")
        return response


@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = RegisterForm(request.POST or None)
    throttle = RegistrationThrottle()
    if request.method == "POST" and not throttle.allow_request(request, None):
        form.add_error(None, throttle.refusal(throttle.wait()))
        return render(request, "accounts/register.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                email=form.cleaned_data["email"],
            )
        except ServiceError as error:
            if "password" in error.errors:
                error.errors["password1"] = error.errors.pop("password")
            add_service_error(form, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                f"Welcome, {user.username}! Your account holds "
                f"{user.coin_account.balance} coins to start with.",
            )
            return redirect("dashboard")
    return render(request, "accounts/register.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    password_form = PasswordChangeForm(request.user, request.POST or None, request=request)
    if request.method == "POST" and password_form.is_valid():
        user = password_form.save()
        update_session_auth_hash(request, user)
        messages.success(request, f"Your password was changed. {TOKEN_REPLACED}")
        return redirect("accounts:profile")
    token = services.token_for_user(user=request.user)
    return render(
        request,
        "accounts/profile.html",
        {"password_form": password_form, "token": token.key, **webhook_profile_context(request)},
    )


@login_required
@require_POST
def regenerate_token(request):
    services.token_regenerate(user=request.user)
    messages.success(request, "A new API token was made; the old one no longer works.")
    return redirect("accounts:profile")
