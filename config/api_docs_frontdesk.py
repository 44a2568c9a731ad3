"""The API documentation's words for opening hours, clinic facts and after-hours behaviour
(issue 15); merged into config.api_docs.OPERATIONS."""

from __future__ import annotations

FRONTDESK_OPERATIONS: dict[str, tuple[str, str, str]] = {
    "agent_config": (
        "agent",
        "Get a clinic's agent configuration",
        "For the voice agent service, with `Authorization: Bearer <agent service token>`. "
        "What the receptionist of a clinic says and does; the clinic is named by `clinic` "
        "(its id) or by `room` (the LiveKit room of a call). Also says whether the clinic is "
        "open now (`open_now`) and until when (`open_until`) or when it opens next "
        "(`opens_at`), what to do when closed (`after_hours`) and what the receptionist "
        "knows (`knowledge`). Supports `If-None-Match` (304 while nothing, open or closed "
        "included, has changed).",
    ),
    "hours_retrieve": (
        "receptionist",
        "Get the opening hours",
        "The clinic's time zone, its weekly opening periods (`day` 0 is Monday; times are "
        "local, 24-hour) and the days it is closed. No weekly periods means open around the "
        "clock.",
    ),
    "hours_replace": (
        "receptionist",
        "Set the opening hours",
        "Replaces the time zone, the weekly periods and the closed days as a whole. Refused "
        "with a 400 naming the entry, and nothing changed: an unknown time zone, a closing "
        "time not after the opening time (hours past midnight continue on the next day from "
        '"00:00"; "24:00" closes at midnight), periods of one day that overlap, a date '
        "listed twice. The receptionist decides open or closed at call time from these.",
    ),
    "clinic_info_retrieve": (
        "receptionist",
        "Get what the receptionist knows",
        "Address and directions, services offered, insurers accepted, languages spoken, the "
        "emergency number and frequently asked questions.",
    ),
    "clinic_info_update": (
        "receptionist",
        "Change what the receptionist knows",
        "Fields left out keep their value; lists replace the old list.",
    ),
    "after_hours_retrieve": (
        "receptionist",
        "Get a receptionist's after-hours behaviour",
        "What it does while the clinic is closed: `message` (take a message), `emergency` "
        "(give the emergency number, then offer to take a message) or `route` (hand the "
        "call to the receptionist `route_to`), with its own greeting and instructions.",
    ),
    "after_hours_update": (
        "receptionist",
        "Change a receptionist's after-hours behaviour",
        "Fields left out keep their value. `route_to` is another receptionist of the same "
        "clinic and is required for `route`.",
    ),
    "agent_message": (
        "agent",
        "Post a message the receptionist took",
        "With the agent service token and an `Idempotency-Key` header that stays the same on "
        "every retry of one message: 201 when stored, 200 when the same message was already "
        "stored under that key, 409 when the key was used for a different message, 404 when "
        "the room is not a live clinic's. The caller's number is taken from the call, not "
        "from the body.",
    ),
    "messages_list": (
        "messages",
        "List the messages",
        "Newest first (at most 100), the caller and call-back number masked (***1234) for "
        "every role. `?handled=false` for new ones, `?handled=true` for handled ones.",
    ),
    "messages_retrieve": (
        "messages",
        "Get a message",
        "Owners and admins see the caller's full number and call-back number; viewers see "
        "them masked.",
    ),
    "messages_update": (
        "messages",
        "Mark a message handled",
        '`{"handled": true}` records who handled it and when; `{"handled": false}` makes it '
        "new again. Owners and admins.",
    ),
    "message_email_retrieve": (
        "messages",
        "Get whether each message is emailed",
        "`email_owners_and_admins`: whether the clinic's owners and admins get an email for "
        "each new message (off until someone turns it on).",
    ),
    "message_email_update": (
        "messages",
        "Turn the email per message on or off",
        '`{"email_owners_and_admins": true}` sends one email per new message to every owner '
        "and admin, once, with the caller masked and a link; the message stays behind "
        "sign-in. Owners and admins.",
    ),
    "locations_list": (
        "receptionist",
        "List the locations",
        "Each location's name, address and directions, its own opening hours (`hours`; null "
        "when it follows the clinic's) and the receptionists answering for it.",
    ),
    "locations_add": (
        "receptionist",
        "Add a location",
        "A second practice or office with its own address and directions, and optionally its "
        "own hours: `hours` has the shape of `hours/`, with `timezone` null for the clinic's "
        "zone. A receptionist answers for it once named on the receptionist "
        '(`{"location": <id>}`).',
    ),
    "locations_retrieve": (
        "receptionist",
        "Get a location",
        "Its name, address, directions, own hours (null: the clinic's) and receptionists.",
    ),
    "locations_update": (
        "receptionist",
        "Change a location",
        "Fields left out keep their value; `hours` replaces the location's hours as a whole "
        "(null: follow the clinic's hours again). Refused with a 400 naming the entry, "
        "nothing changed, as for `hours/`.",
    ),
    "locations_remove": (
        "receptionist",
        "Remove a location",
        "Its receptionists answer with the clinic's address, directions and hours again.",
    ),
}
