"""A webhook receiver as a clinic would write one: it verifies every request with the
`standardwebhooks` package and accepts each `webhook-id` once (idempotent).

``python -m emulators.webhook_receiver --port 0 [--state FILE]`` prints
``webhook receiver listening on http://HOST:PORT`` when ready. Control plane (JSON):

- ``POST /_control/secrets`` ``{"secrets": ["whsec_..."]}``: the secrets that verify;
- ``POST /_control/faults`` ``{"status": 500, "count": 2}`` answers the next two verified
  requests with 500 (not accepted); ``{"hang_s": 5, "count": 1}`` holds the next one for
  5 s, then accepts it and answers 200 (a slow receiver whose answer comes too late);
  ``{}`` clears;
- ``GET /_control/log``: ``accepted`` (id, type, data, the delay from the event's timestamp),
  ``duplicates`` (ids accepted before and seen again), ``rejected`` (why), ``requests``.

With ``--state`` the accepted ids and log survive a restart (receiver down, then up).
"""
