from django.urls import include, path


def explode(request):
    raise RuntimeError("boom")


urlpatterns = [
    path("api/v1/explode/", explode),
    path("", include("mlservice.urls")),
]
