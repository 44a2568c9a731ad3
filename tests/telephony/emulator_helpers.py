"""The LiveKit emulator's credentials in tests/telephony (the fixtures: conftest.py)."""

KEY, SECRET = "devkey", "telephony-tests-secret-0123456789abcdef01"
