"""What the OpenAPI schema (/api/schema/, /api/docs/) says to the people who use the API.

drf-spectacular takes an operation's description from the view's docstring, which is
written for the people who maintain the code ("ClinicPermission resolves the clinic…").
This module holds the words for API users instead, one place for every operation: its tag
(the group it is listed in), a one-line summary and a description. `postprocess` applies
them to the generated schema (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]); an operation
that is not listed here keeps what drf-spectacular generated, and tests/test_api_schema.py
fails until it has a summary and one of these tags (from here or its own `extend_schema`).
"""

from __future__ import annotations

from typing import Any

from config.api_docs_carrier import CARRIER_OPERATIONS
from config.api_docs_frontdesk import FRONTDESK_OPERATIONS
from config.api_docs_purchases import PURCHASE_OPERATIONS
from config.api_docs_receptionists import RECEPTIONIST_OPERATIONS

TAGS: list[dict[str, str]] = [
    {"name": "clinics", "description": "Accounts, API tokens and clinics."},
    {"name": "numbers", "description": "A clinic's phone numbers and its carrier settings."},
    {"name": "receptionist", "description": "What the clinic's AI receptionist says and does."},
    {
        "name": "provisioning",
        "description": "Going live, retrying and offboarding, and the state of the clinic's "
        "phone line (its LiveKit SIP trunk and dispatch rule).",
    },
    {"name": "calls", "description": "The call log and test calls."},
    {"name": "messages", "description": "Messages the receptionist took, and handling them."},
    {"name": "team", "description": "Members, roles and invitations."},
    {"name": "audit", "description": "Who changed what in the clinic, and when."},
    {
        "name": "webhooks",
        "description": "Signed events (Standard Webhooks) to the clinic's own systems: "
        "endpoints, their secrets and their delivery logs. Owners and admins only.",
    },
    {
        "name": "agent",
        "description": "For the voice agent service (agent service tokens, not user tokens).",
    },
]
TAG_NAMES = frozenset(t["name"] for t in TAGS)

AUTH_DESCRIPTION = """\
Switchboard's HTTP API for scripts and integrations: clinics, phone numbers, the
receptionist's settings, provisioning on LiveKit, calls and the team.

## Authentication

Get a token with your email and password (or make a named one on the web app's API tokens
page), then send it in the `Authorization` header of every request, after the word `Token`
and a space:

```
curl -s -XPOST https://switchboard.example/api/v1/auth/token \\
  -H 'Content-Type: application/json' \\
  -d '{"email": "ana@example.org", "password": "...", "name": "nightly export"}'
# {"token": "sbu_8Jq0c3vV2xQ...", "id": 7, "name": "nightly export", "expires_at": "..."}

curl -s https://switchboard.example/api/v1/clinics/ \\
  -H 'Authorization: Token sbu_8Jq0c3vV2xQ...'
```

A token is shown once: Switchboard stores only a hash of it. It expires (after
`expires_in_days`, by default 90 days); `GET /api/v1/tokens/` lists yours and
`DELETE /api/v1/tokens/{id}/` revokes one. A request without credentials gets 401 with
`WWW-Authenticate: Token`; an expired or revoked token, or a malformed `Authorization`
header (a token without the `Token ` prefix, another scheme), gets 401 with a sentence saying
what is wrong. Changing or resetting the password revokes all of your tokens.

The voice agent service authenticates differently, with `Authorization: Bearer <agent
service token>` (see the `agent` operations).

## Errors

A resource you GET can be sent back as it is with PUT or PATCH: read-only fields (such as
`version`, `slug` or `auth_password_set`) are ignored when unchanged, and refused by name when
changed.

Every error is JSON. 400 maps each field to a list of sentences saying what to fix; 401 is
a missing or bad token; 403 a role that may not do this; 404 a clinic (or object) you are
not a member of, or that does not exist; 429 too many requests (see `Retry-After`).
"""

# operationId -> (tag, summary, description)
OPERATIONS: dict[str, tuple[str, str, str]] = {
    "signup": (
        "clinics",
        "Sign up",
        "Create an account and its first clinic; the new user is the clinic's owner. The "
        "answer carries an API token for the new account.",
    ),
    "auth_token": (
        "clinics",
        "Get an API token",
        "Exchange an email and password for a new API token (optionally named, and valid for "
        "`expires_in_days`). Send it as `Authorization: Token <token>`. It is shown once. With "
        "two-factor sign-in on, also send `code`: the six digits your authenticator app shows, "
        "or a recovery code.",
    ),
    "tokens_list": (
        "clinics",
        "List your API tokens",
        "Your tokens: name, the first characters, when each was made, last used and expires, "
        "and whether it is active, expired or revoked. The token itself is never shown again.",
    ),
    "tokens_create": (
        "clinics",
        "Create an API token",
        "A new named token for your account, valid for `expires_in_days` (default 90). The "
        "answer is the only time the token is shown.",
    ),
    "token_revoke": (
        "clinics",
        "Revoke an API token",
        "The token stops working at once (401).",
    ),
    "audit_log_list": (
        "audit",
        "The clinic's audit log",
        "Every change a person or the platform made to the clinic, newest first, 100 at a "
        "time (`before` = the last id for the next page). Filter by `kind` (what changed), "
        "`actor` (part of an email address), `since` and `until` (dates). Owners and admins "
        "only. Entries cannot be changed or deleted; secrets never appear in them.",
    ),
    "clinics_list": ("clinics", "List your clinics", "The clinics you are a member of."),
    "clinics_create": (
        "clinics",
        "Create a clinic",
        "Create another clinic; you become its owner. It starts as a draft.",
    ),
    "clinic_retrieve": ("clinics", "Get a clinic", "A clinic you are a member of, by slug."),
    "clinic_update": (
        "clinics",
        "Change a clinic",
        "Change the clinic's name, time zone (an IANA name such as America/New_York; "
        "aliases are stored as the zone they stand for) or room prefix. A new room prefix "
        "updates the phone line of a live clinic.",
    ),
    "numbers_list": ("numbers", "List phone numbers", "The clinic's numbers, in E.164."),
    "numbers_add": (
        "numbers",
        "Add a phone number",
        "Add a number the clinic's callers dial. Send it in international format "
        "(`+14155550100`), or as dialled in the clinic's country, which comes from its time "
        "zone (`(415) 555-0100` for a clinic in a US zone). A number belongs to one clinic "
        "only. A live clinic's phone line is updated in the background.",
    ),
    "numbers_remove": (
        "numbers",
        "Remove a phone number",
        "Remove a number from the clinic (the path takes it in E.164, `+` URL-encoded as "
        "`%2B`). A live clinic must keep at least one.",
    ),
    "trunk_settings_retrieve": (
        "numbers",
        "Get carrier settings",
        "Which addresses the clinic accepts calls from, the username the carrier must "
        "give, whether a password is set (never the password itself) and background noise "
        "reduction.",
    ),
    "trunk_settings_update": (
        "numbers",
        "Change carrier settings",
        "Fields left out keep their value. The password is write-only: a blank or absent "
        "one keeps the stored password; clearing the username turns the check off.",
    ),
    "agent_retrieve": (
        "receptionist",
        "Get the first receptionist's settings",
        "Greeting, instructions, language, voice, models and recording consent, with the "
        "settings version, of the clinic's first receptionist (see `receptionists/` for all).",
    ),
    "agent_update": (
        "receptionist",
        "Change the first receptionist's settings",
        "Fields left out keep their value; every change bumps the settings version, and a "
        "live clinic's receptionist uses the new settings from its next call.",
    ),
    "clinic_go_live": (
        "provisioning",
        "Go live",
        "Put the clinic live: its phone line is set up in the background (202). Poll "
        "`provisioning/` until `state` is `active`. Refused (400) with what still blocks it.",
    ),
    "clinic_offboard": (
        "provisioning",
        "Offboard a clinic",
        "Owners only. Stop answering calls and remove the clinic's phone line (202; done in "
        "the background). Numbers Switchboard bought stay in the carrier account unless "
        "`release_bought_numbers` is `true`. Cannot be undone through the API.",
    ),
    "provisioning_retry": (
        "provisioning",
        "Retry setting up the phone line",
        "Try again now, after a failure or instead of waiting for the next automatic try.",
    ),
    "provisioning_retrieve": (
        "provisioning",
        "Get the phone line's state",
        "The state of the clinic's phone line (`active` when calls are answered), the "
        "LiveKit trunk and dispatch rule IDs, attempts, the last error as a sentence and the "
        "recent events.",
    ),
    "calls_list": (
        "calls",
        "List calls",
        "The clinic's most recent calls, newest first, each with the receptionist's "
        "`consent`, `outcome` and `summary` (null until reported). Owners and admins see the "
        "caller's full number, viewers `***1234`. Test calls are marked `is_test`.",
    ),
    "call_retrieve": (
        "calls",
        "Get a call",
        "One call by its ID (`room_sid`): status, times, duration, and what the receptionist "
        "reported: `consent`, `outcome`, `summary`, `consent_at` and, for owners and admins, "
        "the `transcript` (when the clinic keeps transcripts and the caller did not decline "
        "recording). Viewers see the caller masked (`***1234`) and no transcript.",
    ),
    "test_call": (
        "calls",
        "Run a test call",
        "What a call from `from` to each of the clinic's numbers would do: which trunk and "
        "dispatch rule it reaches, the room and the receptionist dispatched, and whether "
        "that is what the clinic should get. Against Switchboard's emulator the call is "
        "simulated and appears in the call log as a test; against LiveKit it is a dry run. "
        "`from` may be national, read in the clinic's country.",
    ),
    "members_list": ("team", "List members", "The clinic's members and their roles."),
    "members_invite": (
        "team",
        "Invite a member",
        "Owners only. Same as creating an invitation: the person joins from the emailed link.",
    ),
    "member_change_role": (
        "team",
        "Change a member's role",
        "Owners only. The last owner cannot be demoted.",
    ),
    "member_remove": (
        "team",
        "Remove a member, or leave",
        "Owners remove members; any member may remove themselves (leave). The last owner "
        "cannot leave.",
    ),
    "invitations_list": (
        "team",
        "List invitations",
        "Invitations not yet accepted or revoked, expired ones included.",
    ),
    "invitations_create": (
        "team",
        "Invite someone",
        "Owners only. An email with a single-use link goes to the address; it expires after "
        "`INVITATION_MAX_AGE_SECONDS` (a week by default).",
    ),
    "invitation_revoke": (
        "team",
        "Revoke an invitation",
        "Owners only. The link stops working at once.",
    ),
    "invitation_resend": (
        "team",
        "Re-send an invitation",
        "Owners only. A new link goes to the address, valid for the full period; the old link "
        "stops working. Use it when `email_status` is `failed`.",
    ),
    "invitation_accept": (
        "team",
        "Accept an invitation",
        "Accept as the signed-in user, whose email must be the invited one.",
    ),
    "webhook_endpoints_list": (
        "webhooks",
        "List webhook endpoints",
        "The clinic's webhook endpoints: URL, chosen events, whether enabled (and why not), "
        "since when deliveries fail. Secrets are never shown here.",
    ),
    "webhook_endpoints_create": (
        "webhooks",
        "Add a webhook endpoint",
        "Send `url`, `events` (any of `call.started`, `call.ended`, `message.taken`, "
        "`provisioning.state_changed`, `number.added`, `number.removed`) and `enabled`. The "
        "answer carries the signing `secret` (`whsec_…`): store it now, it is not shown "
        "again. The URL must be https and reach a public internet address.",
    ),
    "webhook_endpoint_retrieve": ("webhooks", "Get a webhook endpoint", "One endpoint by id."),
    "webhook_endpoint_update": (
        "webhooks",
        "Change a webhook endpoint",
        "Fields left out keep their value. Enabling a disabled endpoint sends the events "
        "that waited for it.",
    ),
    "webhook_endpoint_delete": (
        "webhooks",
        "Delete a webhook endpoint",
        "The endpoint, its pending deliveries and its delivery log are deleted.",
    ),
    "webhook_endpoint_rotate_secret": (
        "webhooks",
        "Rotate the signing secret",
        "A new `secret`, shown once. Until `previous_secret_valid_until` (a day by default) "
        "every request carries two signatures, one per secret, so the receiver can switch "
        "without losing events.",
    ),
    "webhook_endpoint_test": (
        "webhooks",
        "Send a test event",
        "Queue a signed `webhook.test` event to this endpoint (202); follow it in the "
        "delivery log.",
    ),
    "webhook_deliveries_list": (
        "webhooks",
        "List an endpoint's deliveries",
        "The most recent deliveries, newest first: event, status (`pending`, `succeeded`, "
        "`failed`), attempts with their HTTP status, latency and the start of the answer.",
    ),
    "webhook_delivery_resend": (
        "webhooks",
        "Resend a delivery",
        "Send a finished delivery again, with the same `webhook-id` and a fresh retry schedule.",
    ),
    "agent_call_outcome": (
        "agent",
        "Report a call's outcome",
        "At the end of a call: the consent decision, the outcome category, a summary and the "
        "transcript. One outcome per call: 201 when stored, 200 when the same report was "
        "already stored (a retry), 409 when a different one was. A transcript the clinic does "
        "not keep, or of a caller who declined recording, is not stored.",
    ),
    **RECEPTIONIST_OPERATIONS,
    **FRONTDESK_OPERATIONS,
    **PURCHASE_OPERATIONS,
    **CARRIER_OPERATIONS,
}


TOO_LARGE = {
    "description": "The request body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE allows.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
            }
        }
    },
}


def postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> Any:
    """Apply the table to every operation, declare the 413 of every body, and the tags."""
    for ops in result.get("paths", {}).values():
        for op in ops.values():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            if "requestBody" in op:
                # config/middleware.py refuses any body over DATA_UPLOAD_MAX_MEMORY_SIZE.
                op.setdefault("responses", {}).setdefault("413", TOO_LARGE)
            words = OPERATIONS.get(op["operationId"])
            if words is None:
                continue
            tag, summary, description = words
            op["tags"] = [tag]
            op["summary"] = summary
            op["description"] = description
    result["tags"] = TAGS
    return result
