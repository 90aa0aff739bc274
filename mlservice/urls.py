from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.admin import AdminPasswordChangeView
from accounts.forms import GuardedAdminAuthenticationForm
from operations import admin_dashboard, health, metrics, views

admin.site.site_header = "mlservice operations"
admin.site.site_title = "mlservice admin"
# Every form that checks a password goes through the login guard, the admin's too.
admin.site.login_form = GuardedAdminAuthenticationForm

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("healthz", health.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (the API's pages, errors).
    path("favicon.ico", views.favicon),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("accounts/", include("accounts.urls")),
    path("accounts/profile/webhooks/", include("webhooks.urls")),
    path("billing/", include("billing.urls")),
    path("", include("mlmodels.urls")),
    path("predictions/", include("predictions.urls")),
    # Before admin.site.urls, whose catch-all would answer 404 for it.
    path("admin/operations/", admin.site.admin_view(admin_dashboard.operations), name="admin-operations"),
    # Over the admin site's own, whose form (old password unguarded, token kept) cannot be set.
    path(
        "admin/password_change/",
        admin.site.admin_view(AdminPasswordChangeView.as_view()),
        name="admin-password-change",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("mlservice.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own
    # (/api/docs/?script=), not inline, so the Content-Security-Policy lets it run.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/auth/", include("accounts.browsable_api_urls")),
]

handler400 = "core.error_views.bad_request"
handler403 = "core.error_views.permission_denied"
handler404 = "core.error_views.not_found"
handler500 = "core.error_views.server_error"
