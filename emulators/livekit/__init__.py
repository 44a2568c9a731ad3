"""A protocol-faithful stand-in for LiveKit's ``livekit.SIP`` Twirp service.

Standalone: nothing in this package imports Django. Run it with
``python -m emulators.livekit --help``; see docs/emulator.md for what it emulates and what it
does not. The behaviour it follows is specified in docs/livekit-sip.md.
"""

__all__: list[str] = []
