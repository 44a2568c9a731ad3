"""The API documentation's words for buying numbers (issue 14); merged into
config.api_docs.OPERATIONS (kept apart so that module stays under 400 lines)."""

from __future__ import annotations

PURCHASE_OPERATIONS: dict[str, tuple[str, str, str]] = {
    "carrier_available_numbers": (
        "numbers",
        "Search numbers on sale at the carrier",
        "Voice-capable numbers the connected carrier account can buy, read from the carrier "
        "now: `country` (two letters, required), `area_code` and `contains` (digits, `*` "
        "for any digit). Telnyx quotes a monthly price; Twilio's search does not (see its "
        "price list). Editors only: it uses the clinic's carrier credentials.",
    ),
    "carrier_purchases_list": (
        "numbers",
        "List number purchases",
        "The clinic's purchases through Switchboard, newest first (at most 100).",
    ),
    "carrier_purchase": (
        "numbers",
        "Buy a number",
        "Buys `e164` in the connected carrier account: the carrier charges the clinic's "
        "account for it, so `confirm_cost` must be `true`. Answers 201 with a `pending` "
        "purchase at once; a worker buys it (retrying when the carrier is busy) and adds "
        "it to the clinic's numbers, answered by the first receptionist. The same "
        "`Idempotency-Key`, or a number already being bought or bought, answers 200 with "
        "that purchase: nothing is bought twice. Read its state with "
        "`GET carrier/purchases/{id}/`.",
    ),
    "carrier_purchase_retrieve": (
        "numbers",
        "Get a number purchase",
        "Its state (`pending`, `bought`, `failed`), whether the number was added to the "
        "clinic's numbers, and in `status_message` what happened in plain words.",
    ),
    "carrier_releases_list": (
        "numbers",
        "List number releases",
        "Numbers Switchboard bought that the clinic gave back to the carrier, newest first "
        "(at most 100).",
    ),
    "carrier_release": (
        "numbers",
        "Release a bought number",
        "Gives `e164`, a number Switchboard bought for the clinic, back to the carrier: it "
        "leaves the clinic's numbers at once and the carrier account within seconds, stops "
        "costing money and cannot be recovered, so `confirm_release` must be `true`. "
        "Numbers the clinic brought itself are refused (remove them with "
        "`DELETE numbers/{id}/`; they stay in the account). Answers 201 with a `pending` "
        "release; the same number again answers 200 with that release: nothing is "
        "released twice.",
    ),
    "carrier_release_retrieve": (
        "numbers",
        "Get a number release",
        "Its state (`pending`, `released`, `failed`) and in `status_message` what happened.",
    ),
    "carrier_release_retry": (
        "numbers",
        "Retry a failed release",
        "Tries a `failed` release again (after fixing what `status_message` says); any "
        "other release is answered as it is.",
    ),
}
