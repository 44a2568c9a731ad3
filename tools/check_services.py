"""`make test` preflight: PostgreSQL and Redis must answer, or say how to start them."""

from __future__ import annotations

import sys
from urllib.parse import urlparse

import psycopg
import redis

HOW_PG = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
HOW_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


def main(db_url: str, redis_url: str) -> int:
    ok = True
    try:
        psycopg.connect(db_url, connect_timeout=3).close()
    except Exception as exc:
        print(f"PostgreSQL is not reachable at {urlparse(db_url).netloc}: {exc}".strip())
        print(f"  start it with: {HOW_PG}\n  or set DATABASE_URL to a reachable server.")
        ok = False
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:
        print(f"Redis is not reachable at {urlparse(redis_url).netloc}: {exc}")
        print(f"  start it with: {HOW_REDIS}\n  or set REDIS_URL to a reachable server.")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
