"""Stand-ins for the upstream services Switchboard provisions against.

Each sub-package is a standalone process that imports nothing from Django:
``emulators.livekit`` is LiveKit's SIP service (``python -m emulators.livekit``).
Carriers' stand-ins (``emulators.twilio``, ``emulators.telnyx``) will sit next to it.
"""
