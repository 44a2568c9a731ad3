"""The SSRF table: each destination refused with a clear error at save (API and service)
and at send time (after DNS: a name that now resolves elsewhere), with no request made."""

from __future__ import annotations

import pytest

from tests.api_helpers import api_as, clinic_url
from tests.webhooks.conftest import make_endpoint
from webhooks import delivery
from webhooks.destinations import DestinationRefused, check
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db

# (url, fake DNS answers for its host or None, the words the error must contain)
REFUSED = [
    ("https://127.0.0.1/hook", None, "127.0.0.1 is a loopback address"),
    ("https://10.1.2.3/hook", None, "a private network address"),
    ("https://172.16.0.9/hook", None, "a private network address"),
    ("https://172.31.255.1/hook", None, "a private network address"),
    ("https://192.168.1.20/hook", None, "a private network address"),
    ("https://169.254.169.254/latest/meta-data", None, "the cloud metadata address"),
    ("https://[::1]/hook", None, "::1 is a loopback address"),
    ("https://[fe80::1]/hook", None, "a link-local address"),
    ("https://intranet.example.com/hook", ["10.0.0.7"], "resolves to 10.0.0.7"),
    ("https://localhost/hook", None, "resolves to 127.0.0.1"),
    ("https://mapped.example.com/hook", ["::ffff:192.168.0.1"], "a private network address"),
    ("https://shared.example.com/hook", ["100.64.0.1"], "not a public internet address"),
]


@pytest.mark.parametrize(("url", "answers", "words"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_at_save_with_a_sentence_naming_the_field(clinic, owner, dns, url, answers, words):
    if answers:
        dns[url.split("/")[2]] = answers
    r = api_as(owner).post(
        clinic_url(clinic, "webhook-endpoints/"),
        {"url": url, "events": ["call.ended"]},
        format="json",
    )
    assert r.status_code == 400, r.content
    (message,) = r.json()["url"]
    assert words in message and "public" in message
    assert "secret" not in r.json()


@pytest.mark.parametrize(("url", "answers", "words"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_at_send_after_dns_changed(clinic, dns, published, url, answers, words):
    """Saved while the name pointed at a public address; at send time it resolves to a
    private one (DNS rebinding): the attempt is refused before any connection."""
    dns["rebind.example.com"] = ["93.184.215.14"]
    endpoint, _ = make_endpoint(clinic, url="https://rebind.example.com/hook")
    endpoint.url = url  # what the endpoint now points at, as far as DNS is concerned
    endpoint.save()
    if answers:
        dns[url.split("/")[2]] = answers
    event = WebhookEvent.objects.create(clinic=clinic, type="call.ended", payload={"x": 1})
    d = WebhookDelivery.objects.create(endpoint=endpoint, event=event)
    assert delivery.deliver(d.pk) == "pending"  # retried later, never sent
    attempt = WebhookAttempt.objects.get(delivery=d)
    assert attempt.status_code is None and attempt.error.startswith("Not sent:")
    assert words in attempt.error


def test_a_name_that_rebinds_between_check_and_send_is_caught(clinic, dns, published):
    dns["rebind.example.com"] = ["93.184.215.14"]
    endpoint, _ = make_endpoint(clinic, url="https://rebind.example.com/hook")
    dns["rebind.example.com"] = ["93.184.215.14", "169.254.169.254"]  # one bad answer is enough
    event = WebhookEvent.objects.create(clinic=clinic, type="call.ended", payload={})
    d = WebhookDelivery.objects.create(endpoint=endpoint, event=event)
    delivery.deliver(d.pk)
    assert "the cloud metadata address" in WebhookAttempt.objects.get(delivery=d).error


def test_the_switch_lets_local_receivers_through(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = True
    assert check("http://127.0.0.1:8080/x").address == "127.0.0.1"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://hooks.example.com/x", "https://"),
        ("https://user:pw@hooks.example.com/x", "user name and password"),
        ("https:///nohost", "no host name"),
        ("https://nowhere.invalid/x", "could not be resolved"),
        ("https://hooks.example.com:99999/x", "not a valid URL"),
    ],
)
def test_malformed_urls_are_refused(db, url, words):
    with pytest.raises(DestinationRefused, match=words):
        check(url)


def test_https_is_required_when_debug_is_off(settings):
    settings.DEBUG = False
    with pytest.raises(DestinationRefused, match="https"):
        check("http://hooks.example.com/x")
    settings.DEBUG = True
    assert check("http://hooks.example.com/x").scheme == "http"


def test_host_header_and_target_keep_what_the_url_said():
    dest = check("https://hooks.example.com:8443/in?clinic=1")
    assert (dest.host_header, dest.target, dest.address) == (
        "hooks.example.com:8443",
        "/in?clinic=1",
        "93.184.215.14",
    )
