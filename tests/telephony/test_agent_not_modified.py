"""The pickup 304 answered before the rest of the stack (decision 0101): the same ETag as
the view for every receptionist a job can name, a change seen at once, the view's answers
(401, 404, 200) for everything else."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from telephony.agent_tokens import agent_token_create, agent_token_revoke
from telephony.api.agent import AgentConfigApi
from telephony.models import AgentToken, Receptionist
from telephony.receptionists import receptionist_create, receptionist_delete
from telephony.services import agent_config_update
from tenants.models import Clinic
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db
URL = "/api/v1/agent/config"


@pytest.fixture
def token():
    return agent_token_create(name="agent")


@pytest.fixture
def live(clinic):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.refresh_from_db()
    return clinic


@pytest.fixture
def agent(token):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token[1]}")


def view_untouched():
    """The view may not run: the answer came from the middleware."""
    return mock.patch.object(AgentConfigApi, "get", side_effect=AssertionError("view ran"))


def fetch(client, clinic, receptionist="", etag=None, **headers):
    params = {"clinic": str(clinic.pk)}
    if receptionist != "":
        params["receptionist"] = receptionist
    extra = {"HTTP_IF_NONE_MATCH": etag} if etag is not None else {}
    return client.get(URL, params, **extra, **headers)


def test_a_current_etag_is_answered_without_the_view_in_one_statement(
    agent, live, django_assert_num_queries
):
    fetch(agent, live)  # last_used_at written (once a minute)
    etag = fetch(agent, live)["ETag"]
    with view_untouched(), django_assert_num_queries(1):
        r = fetch(agent, live, etag=etag)
    assert r.status_code == 304 and not r.content
    assert r["ETag"] == etag and r["Vary"] == "Authorization"
    assert r["Cache-Control"] == "private, no-cache"
    assert "sessionid" not in r.cookies and "csrftoken" not in r.cookies
    with view_untouched():  # one of several ETags, or any
        assert fetch(agent, live, etag=f'"old", {etag}').status_code == 304
        assert fetch(agent, live, etag="*").status_code == 304


@pytest.mark.parametrize("which", ["", "named", "999999", "x1", "deleted", "other clinic"])
def test_both_paths_compute_the_same_etag_for_the_receptionist_a_job_names(agent, live, which):
    """The view and the middleware agree for every way a job names (or fails to name) its
    receptionist; a field added to one ETag and not the other fails here."""
    receptionist_create(clinic=live, name="Billing")
    named = receptionist_create(clinic=live, name="Spanish line", language="es-ES")
    if which == "named":
        which = str(named.pk)
    elif which == "deleted":
        gone = receptionist_create(clinic=live, name="Old line")
        receptionist_delete(receptionist=gone)
        which = str(gone.pk)
    elif which == "other clinic":
        which = str(Receptionist.objects.first_of(make_clinic(name="Elsewhere")).pk)
    full = fetch(agent, live, which)
    assert full.status_code == 200
    expected = named.pk if which == str(named.pk) else Receptionist.objects.first_of(live).pk
    assert full.json()["receptionist"] == expected
    with view_untouched():
        assert fetch(agent, live, which, etag=full["ETag"]).status_code == 304
    # another receptionist's ETag is not this one's
    other = fetch(agent, live, "" if which == str(named.pk) else str(named.pk))["ETag"]
    assert other != full["ETag"]
    assert fetch(agent, live, which, etag=other).status_code == 200


def test_a_saved_change_is_a_new_config_at_once(agent, live):
    etag = fetch(agent, live)["ETag"]
    agent_config_update(clinic=live, greeting="Hello from v2")
    r = fetch(agent, live, etag=etag)
    assert r.status_code == 200 and r.json()["greeting"] == "Hello from v2"
    assert r["ETag"] != etag
    with view_untouched():
        assert fetch(agent, live, etag=r["ETag"]).status_code == 304


@pytest.mark.parametrize("state", ["draft", "suspended", "offboarded"])
def test_a_clinic_no_longer_live_gets_the_views_404(agent, live, state):
    etag = fetch(agent, live)["ETag"]
    Clinic.objects.filter(pk=live.pk).update(state=state)
    assert fetch(agent, live, etag=etag).status_code == 404


@pytest.mark.parametrize(
    "header", ["", "Bearer sbat_wrong", "Bearer", "Token x", "Bearer sbat_" + "x" * 300]
)
def test_bad_credentials_with_a_current_etag_get_the_views_401(agent, live, header):
    etag = fetch(agent, live)["ETag"]
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    assert fetch(client, live, etag=etag).status_code == 401


def test_a_revoked_token_stops_at_once(agent, live, token):
    etag = fetch(agent, live)["ETag"]
    agent_token_revoke(token=token[0])
    assert fetch(agent, live, etag=etag).status_code == 401


def test_nonsense_in_the_query_goes_to_the_view(agent, live):
    etag = fetch(agent, live)["ETag"]
    assert agent.get(URL, {"clinic": "not-a-uuid"}, HTTP_IF_NONE_MATCH=etag).status_code == 404
    assert agent.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 400
    r = agent.post(URL, {"clinic": str(live.pk)}, HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 405


def test_the_304_keeps_the_tokens_last_use_current(agent, live, token):
    etag = fetch(agent, live)["ETag"]
    stale = timezone.now() - timedelta(minutes=5)
    AgentToken.objects.filter(pk=token[0].pk).update(last_used_at=stale)
    with view_untouched():
        assert fetch(agent, live, etag=etag).status_code == 304
    assert AgentToken.objects.get(pk=token[0].pk).last_used_at > stale


# --- the 200 from the process's answers by ETag (decision 0145) ------------------------------


def test_a_second_200_comes_from_the_kept_answer_in_one_statement(
    agent, live, django_assert_num_queries
):
    first = fetch(agent, live)  # the view's answer, kept under its ETag
    assert first.status_code == 200
    with view_untouched(), django_assert_num_queries(1):
        again = fetch(agent, live)
    assert again.status_code == 200 and again.content == first.content
    assert again.json() == first.json()
    for header in ("ETag", "Cache-Control", "Vary", "Content-Type"):
        assert again[header] == first[header], header
    with view_untouched():  # a stale ETag held by the worker gets the kept answer too
        assert fetch(agent, live, etag='"old"').content == first.content


def test_a_renamed_clinic_is_a_new_config_at_once(agent, live):
    from tenants.services import clinic_update

    before = fetch(agent, live)
    clinic_update(clinic=live, name="Renamed Dental")
    after = fetch(agent, live, etag=before["ETag"])
    assert after.status_code == 200 and after.json()["clinic_name"] == "Renamed Dental"
    assert after["ETag"] != before["ETag"]
    with view_untouched():
        assert fetch(agent, live, etag=after["ETag"]).status_code == 304


def test_a_changed_transcript_policy_is_a_new_config_at_once(agent, live):
    from telephony.models import CallLogPolicy

    before = fetch(agent, live)
    assert before.json()["keep_transcripts"] is True
    CallLogPolicy.objects.create(clinic=live, transcript_days=0)
    after = fetch(agent, live, etag=before["ETag"])
    assert after.status_code == 200 and after.json()["keep_transcripts"] is False
    assert after["ETag"] != before["ETag"]
    CallLogPolicy.objects.filter(clinic=live).update(transcript_days=90)
    back = fetch(agent, live)
    assert back.json()["keep_transcripts"] is True and back["ETag"] == before["ETag"]


def test_a_kept_answer_never_outlives_the_token_or_the_clinic(agent, live, token):
    fetch(agent, live)
    assert fetch(agent, live).status_code == 200  # kept
    agent_token_revoke(token=token[0])
    assert fetch(agent, live).status_code == 401
    other = Client(HTTP_AUTHORIZATION=f"Bearer {agent_token_create(name='b')[1]}")
    assert fetch(other, live).status_code == 200
    Clinic.objects.filter(pk=live.pk).update(state="suspended")
    assert fetch(other, live).status_code == 404


def test_the_kept_answers_are_bounded_least_recently_used_first_out():
    from telephony.api.agent_not_modified import Answer, AnswerCache

    a, b, c = (Answer(x, "application/json", "Accept") for x in (b"A", b"B", b"C"))
    cache = AnswerCache(2)
    cache.put('"a"', a)
    cache.put('"b"', b)
    assert cache.get('"a"') == a  # now the most recently used
    cache.put('"c"', c)
    assert (cache.get('"a"'), cache.get('"b"'), cache.get('"c"')) == (a, None, c)


def test_an_answer_is_kept_only_under_the_etag_the_view_gave(agent, live):
    """A change between the statement and the view's reads: the view's answer has another
    ETag, and is not kept under the one the statement read."""
    from telephony.api import agent_not_modified

    real = agent_not_modified.read_pickup

    def stale(request):
        pickup = real(request)
        return pickup._replace(etag='"stale"') if pickup else None

    with mock.patch.object(agent_not_modified, "read_pickup", stale):
        assert fetch(agent, live).status_code == 200
    assert agent_not_modified.ANSWERS.get('"stale"') is None


def test_a_renamed_route_to_receptionist_is_a_new_config_at_once(agent, live):
    """The answer shows the after-hours target's name and line; its own version follows
    them, the routing line's versions do not."""
    from frontdesk.services import after_hours_update
    from telephony.receptionists import receptionist_update

    first = Receptionist.objects.first_of(live)
    night = receptionist_create(clinic=live, name="Night line")
    after_hours_update(receptionist=first, action="route", route_to=night.pk, route_to_given=True)
    before = fetch(agent, live, str(first.pk))
    assert before.json()["after_hours"]["route_to"]["name"] == "Night line"
    receptionist_update(receptionist=night, name="Evening line")
    after = fetch(agent, live, str(first.pk), etag=before["ETag"])
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
    assert after.json()["after_hours"]["route_to"]["name"] == "Evening line"
    with view_untouched():
        assert fetch(agent, live, str(first.pk), etag=after["ETag"]).status_code == 304


def test_only_json_answers_are_kept_and_given_to_requests_that_take_json(agent, live):
    """With DEBUG's browsable API, a browser's fetch is an HTML page: never kept, and a kept
    JSON answer is not given to it."""
    html = fetch(agent, live, HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    first = fetch(agent, live)
    assert first["Content-Type"] == "application/json"
    with view_untouched():
        assert fetch(agent, live).content == first.content  # the JSON was kept
    again = fetch(agent, live, HTTP_ACCEPT="text/html")
    assert again["Content-Type"].startswith("text/html")
