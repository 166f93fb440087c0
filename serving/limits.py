"""Per-key rate limits by cost (in Redis when configured, so they hold across workers; else in-process)."""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Literal, Protocol

import redis

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# After a failed Redis call the limiter does not try Redis again for this long: an unreachable Redis
# would otherwise add its connect timeout to every request.
REDIS_RETRY_SECONDS = 5.0

RedisOutage = Literal["local", "reject"]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # whole seconds until the window resets (0 when allowed)


class LimiterUnavailable(Exception):
    """The shared limiter cannot be reached and the configuration says to refuse rather than guess."""


class RateLimiter(Protocol):
    def hit(self, identity: str, cost: int = 1) -> Decision: ...

    def healthy(self) -> bool: ...


def _window(now: float) -> tuple[int, int]:
    """(window number, seconds left in it, at least 1)."""
    number = int(now // WINDOW_SECONDS)
    left = max(1, math.ceil((number + 1) * WINDOW_SECONDS - now))
    return number, left


class MemoryRateLimiter:
    """Fixed one-minute windows per identity, in this process only; a call spends `cost` units."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, identity: str, cost: int = 1) -> Decision:
        number, left = _window(time.time())
        with self._lock:
            window, count = self._counts.get(identity, (number, 0))
            if window != number:
                count = 0
            count += cost
            self._counts[identity] = (number, count)
            if len(self._counts) > 100_000:
                # Old windows of idle keys are dropped so the table cannot grow without bound.
                self._counts = {k: v for k, v in self._counts.items() if v[0] == number}
        return Decision(True, 0) if count <= self.per_minute else Decision(False, left)

    def healthy(self) -> bool:
        return True


class RedisRateLimiter:
    """Fixed one-minute windows in Redis (INCRBY + EXPIRE in one pipeline), shared by every worker.

    While Redis is unreachable, `outage="local"` counts in this process instead (and logs a warning once
    per outage); `outage="reject"` raises `LimiterUnavailable`, which the API answers with 503.
    """

    def __init__(
        self,
        url: str,
        per_minute: int,
        prefix: str = "pm:ratelimit",
        timeout: float = 1.0,
        outage: RedisOutage = "local",
    ) -> None:
        self.per_minute = per_minute
        self.prefix = prefix
        self.outage = outage
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.fallback = MemoryRateLimiter(per_minute)
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _redis_hit(self, identity: str, cost: int) -> Decision:
        number, left = _window(time.time())
        key = f"{self.prefix}:{identity}:{number}"
        pipe = self.client.pipeline()
        pipe.incrby(key, cost)
        pipe.expire(key, WINDOW_SECONDS + 5)
        count = int(pipe.execute()[0])
        return Decision(True, 0) if count <= self.per_minute else Decision(False, left)

    def _mark_down(self, exc: Exception) -> None:
        with self._lock:
            was_up = self._down_until == 0.0
            self._down_until = time.monotonic() + REDIS_RETRY_SECONDS
        if was_up:
            action = "per-process limits" if self.outage == "local" else "refusing requests (503)"
            logger.warning(
                "Redis rate limiter unreachable (%s): %s until it is back", type(exc).__name__, action
            )

    def _degraded(self, identity: str, cost: int) -> Decision:
        if self.outage == "reject":
            raise LimiterUnavailable("rate limiter unavailable")
        return self.fallback.hit(identity, cost)

    def hit(self, identity: str, cost: int = 1) -> Decision:
        if time.monotonic() < self._down_until:
            return self._degraded(identity, cost)
        try:
            decision = self._redis_hit(identity, cost)
        except redis.RedisError as exc:
            self._mark_down(exc)
            return self._degraded(identity, cost)
        if self._down_until:
            with self._lock:
                self._down_until = 0.0
            logger.warning("Redis rate limiter is reachable again: limits are shared across workers")
        return decision

    def healthy(self) -> bool:
        """Redis answers PING (checked by readiness; a failure also starts the retry pause).

        During the pause after a failure it answers False without asking, so a readiness probe does not
        wait for an unreachable Redis's timeout each time.
        """
        if time.monotonic() < self._down_until:
            return False
        try:
            return bool(self.client.ping())
        except redis.RedisError as exc:
            self._mark_down(exc)
            return False


def make_rate_limiter(
    redis_url: str | None,
    per_minute: int,
    timeout: float = 1.0,
    outage: RedisOutage = "local",
) -> MemoryRateLimiter | RedisRateLimiter:
    if redis_url:
        logger.info("rate limit %d/min per key, shared in Redis (outage: %s)", per_minute, outage)
        return RedisRateLimiter(redis_url, per_minute, timeout=timeout, outage=outage)
    return MemoryRateLimiter(per_minute)
