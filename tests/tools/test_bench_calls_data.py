"""The call-load benchmark's 304 phase sends the ETag the platform gives now: if it drifts
from the API's (a new part of the ETag, say), every "304" request is answered 200 and the
benchmark measures the wrong path without saying so."""

from __future__ import annotations

import pytest
from django.test import Client

from bench.calls_data import config_etags
from telephony.agent_tokens import agent_token_create
from tenants.models import Clinic

pytestmark = pytest.mark.django_db


def test_the_bench_etag_is_the_one_the_config_api_answers_with(clinic):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    agent = Client(HTTP_AUTHORIZATION=f"Bearer {agent_token_create(name='bench')[1]}")
    etag = config_etags([str(clinic.pk)])[str(clinic.pk)]

    answer = agent.get("/api/v1/agent/config", {"clinic": str(clinic.pk)})
    assert answer.status_code == 200 and answer["ETag"] == etag
    again = agent.get("/api/v1/agent/config", {"clinic": str(clinic.pk)}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
