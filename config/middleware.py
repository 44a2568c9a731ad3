"""Refuse request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE before anything reads them.

Django enforces the limit when `request.body` or form data is read, but DRF's parsers read
the stream directly, so a JSON API body would otherwise be parsed whatever its size.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class BodySizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            message = f"The request body is larger than {limit // 1024} KiB."
            if request.path.startswith(("/api/", "/webhooks/")):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
