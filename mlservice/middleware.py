from django.http import JsonResponse

from mlservice.api import error_body

_MESSAGES = {
    400: "Bad request.",
    403: "You do not have permission to do this.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    500: "Internal server error. The error was logged.",
}


class ApiJsonErrorsMiddleware:
    """Every error under /api/ answers in the one JSON error shape, including the 404
    of an unknown URL and a 500, which Django would otherwise render as HTML (or as
    its debug page when DEBUG is on)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and not request.path.startswith("/api/docs")
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
            and not getattr(response, "data", None)
        ):
            status = response.status_code
            detail = _MESSAGES.get(status, response.reason_phrase or "Error.")
            return JsonResponse(error_body(detail), status=status)
        return response
