"""schemathesis against the OpenAPI schema, in-process (WSGI): generated requests for every
operation, as a signed-in clinic owner, with the clinic in the path. Checks: no server error,
and responses conform to the schema (status codes, content types, bodies)."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis import checks

from frontdesk.models import Location, Message
from telephony.models import Receptionist
from tests.api_helpers import user_token
from tests.factories import UserFactory, make_clinic
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery

application = get_wsgi_application()
schema = schemathesis.openapi.from_dict(
    json.loads(
        OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    )
)


# No server errors, and responses as the schema says (status, content type, body). The
# checks that send requests of their own (auth stripped, other methods) are left out: they
# would leave this process; the cross-tenant and anonymous cases are in
# test_tenant_isolation.py.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def owner_token(transactional_db, settings):
    settings.RATELIMIT_ENABLE = False  # the limits have their own tests (test_abuse.py)
    # Like Django's test client: keep the test's connection (and transaction) open across
    # the raw WSGI calls instead of closing it at the end of each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    user = UserFactory(email="fuzz@clinic.example")
    clinic = make_clinic(user, "Fuzz Dental")
    # A webhook endpoint with a finished delivery, so its own operations are reached too.
    endpoint, _ = webhook_services.endpoint_create(
        clinic=clinic, url="https://hooks.example.com/in", chosen=["call.ended"]
    )
    delivery = webhook_services.endpoint_send_test(endpoint=endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    first = Receptionist.objects.first_of(clinic)
    message = Message.objects.create(
        clinic=clinic, room_name="x", reason="Call me", idempotency_key="k", body_hash="x"
    )
    ids = {
        "endpoint_id": str(endpoint.pk),
        "delivery_id": delivery.pk,
        "receptionist_id": first.pk,  # a real one, so its after-hours operations are reached
        "message_id": message.pk,
        "location_id": Location.objects.create(clinic=clinic, name="Downtown").pk,
    }
    yield {"Authorization": f"Token {user_token(user)}"}, clinic.slug, ids
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_api_never_errors_and_matches_its_schema(case, owner_token):
    headers, slug, ids = owner_token
    if case.path_parameters and "slug" in case.path_parameters:
        case.path_parameters["slug"] = slug
    for name, value in ids.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
    case.call_and_validate(
        base_url="http://testserver", app=application, headers=headers, checks=CHECKS
    )
