from django.urls import path

from webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("default-url/", views.default_url, name="default-url"),
    path("secret/", views.regenerate_secret, name="regenerate-secret"),
]
