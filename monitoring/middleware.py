"""The web side of monitoring.processes: after a response (but a scrape's), the
answering process reports its CPU and memory (at most every few seconds)."""

from __future__ import annotations

from monitoring.processes import process_report


class ProcessReportMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # A scrape reads its own process live (monitoring.processes.live_processes) and
        # writes nothing: its cost stays the same whatever happened before it.
        match = getattr(request, "resolver_match", None)
        if match is None or match.url_name != "metrics":
            process_report(role="web")
        return response
