"""Outgoing webhooks: signed events from Switchboard to a clinic's own systems.

Not to be confused with telephony/webhooks.py, which receives LiveKit's webhooks.
"""
