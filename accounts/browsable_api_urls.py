"""Log in and out of DRF's browsable API: DRF's own URL names (its pages link to
``rest_framework:login``) and template, with the site's guarded login form in place of
Django's stock one (``rest_framework.urls`` would check passwords outside the guard)."""

from django.contrib.auth.views import LoginView, LogoutView
from django.urls import path

from accounts.forms import GuardedAuthenticationForm

app_name = "rest_framework"
urlpatterns = [
    path(
        "login/",
        LoginView.as_view(
            template_name="rest_framework/login.html", authentication_form=GuardedAuthenticationForm
        ),
        name="login",
    ),
    path("logout/", LogoutView.as_view(), name="logout"),
]
