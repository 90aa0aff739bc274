import logging
import time

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.functional import SimpleLazyObject, empty

from core.api import error_body
from core.http_metrics import record_request
from core.logs import REQUEST_ID_HEADER, request_id_from, request_id_var
from core.units import human_size

request_logger = logging.getLogger("mlservice.request")

_MESSAGES = {
    400: "Bad request.",
    403: "You do not have permission to do this.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    500: "Internal server error. The error was logged.",
}


class RefuseNulCharactersMiddleware:
    """PostgreSQL cannot compare text holding a NUL character: one in the path or the
    query string would reach a lookup and fail as a 500. Refuse it up front (400)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            detail = "The URL contains a NUL character (%00)."
            if request.path.startswith("/api/"):
                return JsonResponse(error_body(detail), status=400)
            return HttpResponseBadRequest(detail, content_type="text/plain")
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Sends ``CONTENT_SECURITY_POLICY`` (set with DEBUG off) on every answer that
    has none of its own: the browser then runs only scripts served from this site,
    so markup slipped into a page cannot run script."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response


# Room for the multipart framing and the small form fields around an uploaded file.
BODY_ENVELOPE_BYTES = 64 * 1024


def body_limit(setting_name: str):
    """Marks a view that takes an upload: its body may be as large as the setting
    ``setting_name`` (bytes) plus the multipart envelope. On a DRF viewset set
    ``max_body_setting`` on the class instead (it applies to its ``create``)."""

    def mark(view):
        view.max_body_setting = setting_name
        return view

    return mark


def _max_body_setting(request) -> str | None:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    view = match.func
    name = getattr(view, "max_body_setting", None)
    viewset = getattr(view, "cls", None)
    actions = getattr(view, "actions", None) or {}
    if name is None and viewset is not None and actions.get(request.method.lower()) == "create":
        name = getattr(viewset, "max_body_setting", None)
    return name


class RefuseOversizedBodyMiddleware:
    """413 from the Content-Length alone, before anything reads the body (Django's
    CSRF check reads a form's body in process_view, which runs after every
    middleware's __call__, so this may sit anywhere in the list: it is after the
    authentication middleware only so the error page knows who is signed in).

    A route marked with ``body_limit`` (the dataset and prediction uploads) may take
    its setting plus the envelope; any other route DATA_UPLOAD_MAX_MEMORY_SIZE plus the
    envelope, as no other route takes a file. Anonymous requests too. A chunked body
    (no Content-Length) is left to the upload handlers' own checks as they read it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > BODY_ENVELOPE_BYTES:  # small bodies (most requests) need no lookup
            name = _max_body_setting(request)
            limit = getattr(settings, name) if name else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if length > limit + BODY_ENVELOPE_BYTES:
                return self._refuse(request, length, limit, upload=name is not None)
        return self.get_response(request)

    @staticmethod
    def _refuse(request, length: int, limit: int, *, upload: bool):
        if upload:
            # The words of the upload views' own refusals (the form states the same limit).
            detail = f"The file is {human_size(length)}; the limit is {human_size(limit)}."
        else:
            detail = (
                f"The request body is larger than the {human_size(limit)} limit for JSON and form "
                "bodies. Send large prediction inputs as a CSV file (multipart, field file)."
            )
        if request.path.startswith("/api/"):
            response = JsonResponse(error_body(detail), status=413)
        else:
            response = render(request, "413.html", {"detail": detail}, status=413)
        # The body was not read: the connection cannot carry another request.
        response["Connection"] = "close"
        return response


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


# Answered many times a minute to machines (probes, Prometheus, static files): their
# lines are logged at DEBUG so they do not drown the rest.
_QUIET_VIEWS = {"healthz", "metrics", "static"}


def _view_label(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name
    if request.path.startswith(settings.STATIC_URL):
        return "static"
    return "unmatched"


def _user_id(request) -> int | None:
    # DRF puts the user it authenticated (by token) on the Django request too. A
    # session user that nothing has looked at yet is left alone: reading it would
    # cost a query just for the log.
    user = getattr(request, "user", None)
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return user.pk if user.is_authenticated else None


class RequestContextMiddleware:
    """The outermost layer. Gives the request an id (the client's ``X-Request-ID``
    when it is short and plain, else a new one) that every log line written while
    answering carries and that the response returns in ``X-Request-ID``; then writes
    one log line for the request and counts it in /metrics.

    The line holds the method, the path without its query string (which can carry a
    secret), the status, the duration, the request id and the user id: never headers
    or bodies."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            response[REQUEST_ID_HEADER] = request_id
            view = _view_label(request)
            record_request(view=view, method=request.method, status=response.status_code, seconds=seconds)
            if view in _QUIET_VIEWS and response.status_code < 400:
                level = logging.DEBUG
            elif response.status_code >= 500:
                level = logging.WARNING
            else:
                level = logging.INFO
            duration_ms = round(seconds * 1000, 1)
            method, path = request.method[:16], request.path[:300]
            request_logger.log(
                level,
                "%s %s %s %.1fms",
                method,
                path,
                response.status_code,
                duration_ms,
                extra={
                    "event": "request",
                    "method": method,
                    "path": path,
                    "view": view,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                    "user_id": _user_id(request),
                },
            )
            return response
        finally:
            request_id_var.reset(token)
