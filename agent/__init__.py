"""Switchboard's voice agent worker: one deployment that answers calls for every clinic.

Only `agent.worker` imports livekit-agents (the optional `[agent]` extra), and only when it
runs; everything else here is plain Python plus aiohttp, so it can be imported and tested
without the extra.
"""
