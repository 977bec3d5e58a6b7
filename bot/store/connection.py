"""One Redis client per process: a server, Sentinel, a Cluster, or an embedded fake."""

from __future__ import annotations

import logging
from typing import Any, cast
from urllib.parse import parse_qs, unquote

import redis
from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.driver_info import DriverInfo

from bot.errors import ConfigError

logger = logging.getLogger(__name__)

# A command unanswered this long fails as unreachable (once retried): a Redis that accepts
# connections but hangs must not hold a Slack delivery, or an answer, forever. Longer than
# the queue's blocking read (1 s). redis-py 8 defaults to the same; older ones wait forever.
COMMAND_TIMEOUT_SECONDS = 5.0

# What CLIENT SETINFO tells Redis, looked up once: by default redis-py reads its version from
# the installed package's metadata for every new connection, which costs milliseconds of
# CPU each, on the event loop, as a burst opens the pool's connections.
_DRIVER = DriverInfo(lib_version=redis.__version__)

# Redis is down, restarting, failing over or out of reach: not a bug, nothing to retry at once.
_UNREACHABLE = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ClusterError,
    redis_errors.ReadOnlyError,
    redis_errors.TryAgainError,
)


def connect(url: str | None, *, max_connections: int = 50, quiet: bool = False) -> Redis:
    """A client for `url`; without one, an in-process store that forgets on exit."""
    # `redis+sentinel://[:password@]host:port[,host:port]/service[/db]` asks the
    # Sentinels for the service's primary; `redis+cluster://[:password@]host:port[,…]`
    # talks to a Redis Cluster (each operation's keys share a hash slot). `rediss+…` is TLS.
    if url is None:
        return _embedded(quiet)
    try:
        if url.startswith(("redis+sentinel://", "rediss+sentinel://")):
            return _sentinel(url, max_connections)
        if url.startswith(("redis+cluster://", "rediss+cluster://")):
            return _cluster(url, max_connections)
        # A burst of events must wait for a connection, not fail with MaxConnectionsError.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=10,
            decode_responses=True,
            retry=_once_more(),
            socket_timeout=COMMAND_TIMEOUT_SECONDS,
            socket_connect_timeout=COMMAND_TIMEOUT_SECONDS,
            driver_info=_DRIVER,
        )
    except ValueError as exc:
        # Our own messages name no part of the URL; redis-py's may quote it, password and all.
        own = str(exc) if isinstance(exc, _UrlProblem) else "it does not parse"
        raise ConfigError(
            f"REDIS_URL is invalid ({own}): see docs/deploy.md for the URL forms, and "
            "percent-encode special characters in the password (/ → %2F, @ → %40)"
        ) from None
    return Redis(connection_pool=pool)


def is_cluster(redis: Redis) -> bool:
    """Whether `redis` is a Redis Cluster client (a script's keys must share one slot)."""
    return isinstance(redis, RedisCluster)


def _once_more() -> Retry:
    """Retry a command once, at once, on a fresh connection after a connection error."""
    # After Redis restarts every pooled connection is dead; without this each one fails a
    # command (a health probe, a question) before the pool replaces it.
    return Retry(NoBackoff(), 1)


class _UrlProblem(ValueError):
    """A multi-host URL the bot can't use, said without quoting it (it may hold a password)."""


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """The primary's pool, waiting for a free connection like the plain URL's does."""


def _embedded(quiet: bool) -> Redis:
    import fakeredis

    if not quiet:
        logger.warning(
            "REDIS_URL is not set: using an embedded in-process store. Thread history is not "
            "persisted and cannot be shared between processes; set REDIS_URL for production."
        )
    return cast(Redis, fakeredis.FakeAsyncRedis(decode_responses=True))


def _parts(url: str) -> tuple[bool, str | None, str | None, list[tuple[str, int]], list[str]]:
    """TLS or not, username, password, hosts, and the path's segments of a multi-host URL."""
    scheme, _, rest = url.partition("://")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, _, hostlist = netloc.rpartition("@")
    username, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    hosts = []
    for host in hostlist.split(","):
        name, _, port = host.rpartition(":")
        if not port.isdigit():
            raise _UrlProblem("every host needs a port, like host:26379")
        hosts.append((name.strip("[]") or "127.0.0.1", int(port)))
    if parse_qs(query):
        raise _UrlProblem("Sentinel and Cluster URLs take no ?options")
    return (
        scheme.startswith("rediss"),
        unquote(username) or None,
        unquote(password) or None,
        hosts,
        [unquote(p) for p in path.split("/") if p],
    )


def _sentinel(url: str, max_connections: int) -> Redis:
    tls, username, password, hosts, path = _parts(url)
    if not path:
        raise _UrlProblem("a Sentinel URL names the service: redis+sentinel://host:26379/mymaster")
    service, db = path[0], int(path[1]) if len(path) > 1 else 0
    auth: dict[str, Any] = {"username": username, "password": password, "ssl": tls}
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        hosts, sentinel_kwargs=auth, **auth, decode_responses=True
    )
    primary = sentinel.master_for(
        service,
        connection_pool_class=_BlockingSentinelPool,
        db=db,
        max_connections=max_connections,
        timeout=10,
        retry=_once_more(),
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
        socket_connect_timeout=COMMAND_TIMEOUT_SECONDS,
        driver_info=_DRIVER,
    )
    return cast(Redis, primary)


def _cluster(url: str, max_connections: int) -> Redis:
    tls, username, password, hosts, _ = _parts(url)
    cluster = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in hosts],
        username=username,
        password=password,
        ssl=tls,
        decode_responses=True,
        max_connections=max_connections,
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
        socket_connect_timeout=COMMAND_TIMEOUT_SECONDS,
        driver_info=_DRIVER,
    )
    # The bot uses only commands and pipelines that RedisCluster routes by key.
    return cast(Redis, cluster)


def is_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says Redis can't be reached now (refused, reset, loading, failing over)."""
    # Sentinel's "no primary" (MasterNotFoundError) and a full pool are ConnectionErrors too.
    return isinstance(exc, _UNREACHABLE)
