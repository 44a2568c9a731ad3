"""A stand-in for the parts of Twilio's REST API that Switchboard uses.

Standalone: nothing in this package imports Django. One port serves both hosts' paths:
``/2010-04-01/Accounts/…`` (api.twilio.com: the account, its incoming phone numbers,
available numbers) and ``/v1/Trunks…`` (trunking.twilio.com: Elastic SIP trunks, their
origination URLs and phone numbers). Run ``python -m emulators.twilio --help``; what it
emulates and where it knowingly differs is in docs/carriers.md.
"""

__all__: list[str] = []
