"""Which clinic a LiveKit webhook event is about, found and locked in ONE constant statement.

The evidence, strongest first (telephony.calllog explains each): the SIP participant's trunk
ID, then its dispatch rule ID (both matched against the clinic's provisioning row), then the
`switchboard.clinic` attribute, then the clinic the room's call row already names (with the
evidence that row was mapped by), then the longest clinic room prefix the room name starts
with. The clinic row is locked FOR NO KEY UPDATE (decision 0054: test-call recording
serialises on it), and what other apps asked to know about the clinic at every event
(telephony.call_events.CLINIC_FACTS) is read with it.

The statement is written once, not built by the ORM per event: building and compiling the
equivalent querysets was two thirds of the webhook's CPU in process (decision 0141).
"""

from __future__ import annotations

import uuid

from telephony import call_events
from telephony.agent_config import room_prefixes
from telephony.sql_rows import model_rows
from tenants.models import Clinic

FIND = """
SELECT cl.*, found.how AS found_by{facts}
FROM (
    SELECT clinic_id, how FROM (
        SELECT p.clinic_id, 'trunk' AS how, 1 AS pos, 0 AS prefix_length, c.name
          FROM telephony_provisioning p JOIN tenants_clinic c ON c.id = p.clinic_id
         WHERE %(trunk)s <> '' AND p.trunk_id = %(trunk)s
        UNION ALL
        SELECT p.clinic_id, 'rule', 2, 0, c.name
          FROM telephony_provisioning p JOIN tenants_clinic c ON c.id = p.clinic_id
         WHERE %(rule)s <> '' AND p.dispatch_rule_id = %(rule)s
        UNION ALL
        SELECT c.id, 'attribute', 3, 0, c.name FROM tenants_clinic c WHERE c.id = %(attribute)s
        UNION ALL
        SELECT r.clinic_id, r.mapped_by, 4, 0, '' FROM telephony_call r
         WHERE r.room_sid = %(room_sid)s
        UNION ALL
        SELECT c.id, 'room_prefix', 5, length(c.room_prefix), c.name FROM tenants_clinic c
         WHERE c.room_prefix = ANY(%(prefixes)s::varchar[])
    ) AS evidence
    ORDER BY pos, prefix_length DESC, name, clinic_id
    LIMIT 1
) AS found
JOIN tenants_clinic cl ON cl.id = found.clinic_id
FOR NO KEY UPDATE OF cl
"""


def find_clinic(
    *, room_sid: str, room_name: str, trunk: str = "", rule: str = "", attribute: str = ""
) -> tuple[Clinic, str] | None:
    """The clinic (locked, each CLINIC_FACTS name set on it) and the Call.MappedBy value of
    the evidence that named it; None when no evidence names one."""
    facts = "".join(
        f",\n    {sql} AS {name}" for name, sql in sorted(call_events.CLINIC_FACTS.items())
    )
    params = {
        "trunk": trunk,
        "rule": rule,
        "attribute": _uuid(attribute),
        "room_sid": room_sid,
        "prefixes": room_prefixes(room_name),
    }
    found = model_rows(Clinic, FIND.format(facts=facts), params)
    return (found[0], str(getattr(found[0], "found_by"))) if found else None  # noqa: B009


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
