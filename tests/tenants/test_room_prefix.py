"""Room prefixes (decision 0021): clashes are whole prefixes, a clinic's choice is
constrained, and allocating a prefix never fails a signup."""

from __future__ import annotations

import json
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from telephony.agent_config import clinic_for_room
from tenants import services
from tenants.models import Clinic
from tenants.services import clinic_update, user_signup
from tests.api_helpers import api_as, clinic_url
from tests.factories import UserFactory, make_clinic

PASSWORD = "a-Long-passw0rd!"


@pytest.mark.django_db
def test_a_short_prefix_no_longer_blocks_signups(clinic, owner, settings):
    """The finding: PATCH {"room_prefix": "zqx"} then a signup for "Zqx Family Dental" was
    a 500 ("could not find a free room prefix") and created nothing."""
    settings.RATELIMIT_ENABLE = False
    r = api_as(owner).patch(clinic_url(clinic), {"room_prefix": "zqx"}, format="json")
    assert r.status_code == 200, r.content
    r = api_as(None).post(
        "/api/v1/signup",
        {"email": "new@zqx.example", "password": PASSWORD, "clinic_name": "Zqx Family Dental"},
        format="json",
    )
    assert r.status_code == 201, r.content
    new = Clinic.objects.get(slug=r.json()["clinic"]["slug"])
    assert new.room_prefix.startswith("zqx-family-dental-")
    assert clinic_for_room("zqx_+14155550123_Ab3dE5fG7hJk") == Clinic.objects.get(pk=clinic.pk)
    assert clinic_for_room(f"{new.room_prefix}_+14155550123_Ab3dE5fG7hJk") == new


@pytest.mark.django_db
def test_only_an_identical_prefix_clashes(clinic, owner):
    other = make_clinic(owner, "Other")
    clinic_update(clinic=other, room_prefix=clinic.room_prefix[:5].strip("-"))
    clinic_update(clinic=other, room_prefix=clinic.room_prefix + "-x")
    with pytest.raises(ValidationError) as err:
        clinic_update(clinic=other, room_prefix=clinic.room_prefix)
    assert "Another clinic has this room prefix" in err.value.message_dict["room_prefix"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("prefix", "words"),
    [
        ("ab", "3 to 40"),
        ("x" * 41, "3 to 40"),
        ("Has_Underscore", "no underscores"),
        ("-lead", "starting and ending"),
        ("trail-", "starting and ending"),
        ("dou--ble", "single hyphens"),
        ("ÿes-ok", "lowercase letters"),
        ("test", "reserved"),
        ("livekit", "reserved"),
        ("sb-0123456789abcdef0123456789abcdef", "reserved"),
        ("sb-mine", "reserved"),
    ],
)
def test_what_a_clinic_may_choose(clinic, prefix, words):
    with pytest.raises(ValidationError) as err:
        clinic_update(clinic=clinic, room_prefix=prefix)
    assert words in err.value.message_dict["room_prefix"][0]


@pytest.mark.django_db
def test_allocation_falls_back_to_a_platform_prefix_when_every_try_is_taken(owner, monkeypatch):
    monkeypatch.setattr(services, "get_random_string", lambda *a, **k: "aaaa")
    first = make_clinic(owner, "Same Name")
    second = make_clinic(owner, "Same Name")
    assert first.room_prefix == "same-name-aaaa"
    assert second.room_prefix == f"sb-{second.pk.hex}" == second.slug


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["SB 1234", "Test", "x", "sb-"])
def test_names_never_produce_a_reserved_prefix(owner, name):
    prefix = make_clinic(owner, name).room_prefix
    base = prefix.rsplit("-", 1)[0]
    assert not prefix.startswith("sb-") and base not in services.RESERVED_PREFIXES


@pytest.mark.django_db(transaction=True)
def test_signups_racing_prefix_changes_never_fail(monkeypatch):
    """Signups for one name race owners setting their prefix to exactly what the signups
    would get (the random tail is pinned, so every try clashes): no error, no duplicate,
    every room name maps to one clinic. Threads, real PostgreSQL, committed transactions."""
    monkeypatch.setattr(services, "get_random_string", lambda *a, **k: "k3f9")
    squatters = [make_clinic(UserFactory(), f"Squatter {i}") for i in range(3)]
    wanted = "zqx-family-dental-k3f9"
    signups, changers = 6, len(squatters)
    barrier = threading.Barrier(signups + changers)
    errors: list[BaseException] = []
    refused: list[str] = []

    def run(fn):
        def target():
            try:
                barrier.wait()
                fn()
            except ValidationError as exc:
                refused.append(json.dumps(exc.message_dict))
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        return threading.Thread(target=target)

    threads = [
        run(
            lambda i=i: user_signup(
                email=f"s{i}@zqx.example", password=PASSWORD, clinic_name="Zqx Family Dental"
            )
        )
        for i in range(signups)
    ]
    threads += [run(lambda c=c: clinic_update(clinic=c, room_prefix=wanted)) for c in squatters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert Clinic.objects.filter(memberships__user__email__endswith="@zqx.example").count() == 6
    prefixes = list(Clinic.objects.values_list("room_prefix", flat=True))
    assert len(prefixes) == len(set(prefixes))
    assert list(Clinic.objects.filter(room_prefix=wanted).values_list("room_prefix", flat=True))
    # Everyone who lost the race was told in a sentence naming the field.
    assert all("room_prefix" in r for r in refused)
    assert len(refused) <= changers
    for prefix in prefixes:
        assert clinic_for_room(f"{prefix}_+14155550123_Ab3dE5fG7hJk").room_prefix == prefix
