"""What the carrier emulators (Twilio, Telnyx) share: the request pipeline with faults and a
request log, the control plane, the process entry point and the test-process helper.

Django-free. The fault rules and the request log are the LiveKit emulator's own (same rule
shape, same ``/_emulator/requests`` rows), so one control-plane client drives all three.
"""

__all__: list[str] = []
