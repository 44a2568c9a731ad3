"""The API documentation's words for the receptionist operations (issue 15); merged into
config.api_docs.OPERATIONS (kept apart so that module stays under 400 lines)."""

from __future__ import annotations

RECEPTIONIST_OPERATIONS: dict[str, tuple[str, str, str]] = {
    "numbers_update": (
        "numbers",
        "Choose who answers a number",
        "Set `receptionist` to the id of one of the clinic's receptionists; a live clinic's "
        "calls to the number reach that receptionist once provisioning has converged.",
    ),
    "receptionists_list": (
        "receptionist",
        "List the receptionists",
        "Every receptionist of the clinic, oldest (the first) first, with the numbers each "
        "answers.",
    ),
    "receptionists_add": (
        "receptionist",
        "Add a receptionist",
        "A `name` is required; settings left out are the platform's defaults. Assign numbers "
        "to it with `PATCH numbers/{e164}/`.",
    ),
    "receptionists_retrieve": ("receptionist", "Get a receptionist", "With its numbers."),
    "receptionists_update": (
        "receptionist",
        "Change a receptionist",
        "Fields left out keep their value; every change bumps its version.",
    ),
    "receptionists_remove": (
        "receptionist",
        "Delete a receptionist",
        "Its numbers move to `move_to` (default: the clinic's first other receptionist). "
        "The last receptionist cannot be deleted.",
    ),
}
