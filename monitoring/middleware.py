"""The web side of monitoring.processes: after a response, the answering process
reports its CPU and memory (at most every few seconds)."""

from __future__ import annotations

from monitoring.processes import process_report


class ProcessReportMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        process_report(role="web")
        return response
