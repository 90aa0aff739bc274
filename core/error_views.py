"""The project's error handlers (handler400/403/404/500): the one JSON error shape
under /api/, Django's pages elsewhere."""

from django.http import JsonResponse
from django.views import defaults

from core.api import error_body


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse(error_body("Internal server error. The error was logged."), status=500)
    return defaults.server_error(request)


def permission_denied(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("You do not have permission to do this."), status=403)
    return defaults.permission_denied(request, exception)


def bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("Bad request."), status=400)
    return defaults.bad_request(request, exception)
