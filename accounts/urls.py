from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.GuardedLoginView.as_view(), name="login"),
    path("logout/", views.LogoutWithMessageView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
    path("profile/", views.profile, name="profile"),
    path("profile/token/", views.regenerate_token, name="regenerate-token"),
]
