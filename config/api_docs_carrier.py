"""The API docs' words for the carrier account operations (issue 14); config/api_docs.py
applies them with the rest."""

from __future__ import annotations

CARRIER_OPERATIONS: dict[str, tuple[str, str, str]] = {
    "carrier_retrieve": (
        "numbers",
        "Get the connected carrier account",
        "Which carrier account (Twilio or Telnyx) is connected, its state (`not_connected`: "
        "the clinic sets up its carrier by hand), and for each of the clinic's numbers "
        "whether the account owns it and whether it is attached to the clinic's trunk or to "
        "another one; `waiting_for_carrier` and `readiness` say whether calls can reach the "
        "clinic yet (set up by Switchboard, confirmed by hand, or a real call arrived). "
        "Never a credential.",
    ),
    "carrier_confirmation": (
        "numbers",
        "Get the hand-configured carrier confirmation",
        "Whether the clinic said it configured its carrier itself, when, and whether the "
        "clinic is still waiting for its carrier.",
    ),
    "carrier_confirm": (
        "numbers",
        "Confirm a carrier configured by hand",
        '"I\'ve configured my carrier": `{"confirmed": true}` for a clinic that set its '
        "carrier up itself (no connected account), so the dashboard stops waiting for the "
        "carrier; `false` takes it back. The first real call still proves it. Refused (400) "
        "while a carrier account is connected.",
    ),
    "carrier_connect": (
        "numbers",
        "Connect a carrier account",
        "Twilio: `account_sid` with `auth_token`, or with `api_key_sid` and "
        "`api_key_secret`; Telnyx: `api_key`. The credentials are checked at the carrier "
        "with read calls before anything is saved; a refusal is a 400 naming the field in "
        "plain words. They are write-only; sent without any, the stored ones are kept.",
    ),
    "carrier_disconnect": (
        "numbers",
        "Disconnect the carrier account",
        "Forget the carrier account's credentials. The numbers in the account are never touched.",
    ),
    "carrier_numbers": (
        "numbers",
        "List the carrier account's numbers",
        "Read from the carrier now: each number, whether it can take calls through a trunk "
        "(and why not), whether another trunk or connection has it, and whether it is one "
        "of the clinic's numbers already.",
    ),
}
