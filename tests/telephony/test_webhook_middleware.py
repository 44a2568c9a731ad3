"""LiveKit's webhooks answered right after the security middleware (decision 0143): the rest
of the stack does not run for them, what they answer is unchanged."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.csrf import CsrfViewMiddleware

from telephony.models import Call
from tests.telephony.test_webhooks import call_events, post, sip
from tests.telephony.webhook_helpers import KEY, SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def livekit_keys(settings):
    settings.LIVEKIT_API_KEY = KEY
    settings.LIVEKIT_API_SECRET = SECRET


def untouched(cls):
    return mock.patch.object(cls, "process_request", side_effect=AssertionError(cls.__name__))


def test_a_call_is_recorded_without_the_session_and_csrf_middleware(client, clinic):
    with untouched(SessionMiddleware), untouched(CsrfViewMiddleware):
        answers = [post(client, text) for text in call_events(clinic, participant=sip())]
    assert [a.status_code for a in answers] == [200] * 4
    assert answers[0]["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still ran
    assert Call.objects.get().status == "completed"


def test_refusals_are_the_views(client, clinic):
    with untouched(SessionMiddleware):
        assert post(client, call_events(clinic)[0], auth="Bearer nonsense").status_code == 401
        assert client.post("/webhooks/livekit", data="{}", content_type="a/b").status_code == 401
    assert client.get("/webhooks/livekit").status_code == 405  # down the stack, as before


def test_other_paths_still_cross_the_whole_stack(client):
    with untouched(SessionMiddleware), pytest.raises(AssertionError, match="SessionMiddleware"):
        client.post("/webhooks/livekit/", data="{}", content_type="application/json")
