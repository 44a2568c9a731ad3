"""The HTTP API, /api/v1/ (design.md §7)."""

urlpatterns: list = []
