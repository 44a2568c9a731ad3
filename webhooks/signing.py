"""Standard Webhooks signatures (https://www.standardwebhooks.com), with the maintained
`standardwebhooks` package: `webhook-id`, `webhook-timestamp`, `webhook-signature`.

During a rotation's grace period the header carries two signatures, one per secret, so a
receiver still on the old secret verifies, and one already on the new secret does too.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)


def new_secret() -> str:
    """A fresh signing secret: "whsec_" and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def headers(
    *, msg_id: str, timestamp: datetime, body: bytes, secrets_: Sequence[str]
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (signed at send time)."""
    signatures = " ".join(
        Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=body) for secret in secrets_
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }
