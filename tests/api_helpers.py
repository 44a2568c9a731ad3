"""Helpers for the API tests: clients per party, URLs, and DRF's datetime format."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from rest_framework import serializers
from rest_framework.test import APIClient

from tenants.api_tokens import api_token_create
from tenants.models import Clinic, User

API = "/api/v1"


def api_as(user: User | None) -> APIClient:
    """A client authenticated the way scripts are: `Authorization: Token <key>`."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {user_token(user)}")
    return client


def user_token(user: User, name: str = "test") -> str:
    """A new API token for `user` (the secret; only its hash is stored)."""
    return api_token_create(user=user, name=name)[1]


def clinic_url(clinic: Clinic, tail: str = "") -> str:
    return f"{API}/clinics/{clinic.slug}/{tail}"


def number_url(clinic: Clinic, e164: str) -> str:
    return clinic_url(clinic, f"numbers/{quote(e164, safe='')}/")


def iso(value: datetime | None) -> Any:
    """A datetime as the API renders it."""
    return serializers.DateTimeField().to_representation(value) if value else None
