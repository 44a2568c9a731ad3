"""A stand-in for the parts of Telnyx's API v2 that Switchboard uses.

Standalone: nothing in this package imports Django. It serves ``/v2/phone_numbers``,
``/v2/fqdn_connections``, ``/v2/fqdns``, ``/v2/available_phone_numbers`` and
``/v2/number_orders`` with JSON bodies and a bearer API key. Run
``python -m emulators.telnyx --help``; what it emulates and where it knowingly differs is in
docs/carriers.md.
"""

__all__: list[str] = []
