"""One Redis connection pool per process: the real server, or an embedded fake."""

from __future__ import annotations

import logging

from redis.asyncio import BlockingConnectionPool, Redis

logger = logging.getLogger(__name__)


def connect(url: str | None, *, max_connections: int = 50, quiet: bool = False) -> Redis:
    """A client for `url`; without one, an in-process store that forgets on exit."""
    if url is None:
        import fakeredis

        if not quiet:
            logger.warning(
                "REDIS_URL is not set: using an embedded in-process store. Thread history is "
                "not persisted and cannot be shared between processes; set REDIS_URL for "
                "production."
            )
        return fakeredis.FakeAsyncRedis(decode_responses=True)
    # A burst of events must wait for a connection, not fail with MaxConnectionsError.
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=10, decode_responses=True
    )
    return Redis(connection_pool=pool)
