"""A webhook receiver for the benchmark: answers 200 at once, or after `--slow-s` on
`--slow-path`; counts requests per path. GET /_stats -> {path: count}.

    python -m bench.webhook_sink --port P [--slow-path /ep00 --slow-s 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slow-path", default="")
    parser.add_argument("--slow-s", type=float, default=0.0)
    args = parser.parse_args()
    counts: Counter[str] = Counter()

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        if request.path == args.slow_path:
            await asyncio.sleep(args.slow_s)
        counts[request.path] += 1
        return web.Response(text="ok")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(dict(counts))

    app = web.Application()
    app.router.add_get("/_stats", stats)
    app.router.add_post("/{tail:.*}", hook)
    print("sink ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
