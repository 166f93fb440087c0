"""Per-key rate limiting (Redis when configured, so the limit holds across workers; in-process otherwise)."""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # whole seconds until the window resets (0 when allowed)


class RateLimiter(Protocol):
    def hit(self, identity: str) -> Decision: ...


def _window(now: float) -> tuple[int, int]:
    """(window number, seconds left in it, at least 1)."""
    number = int(now // WINDOW_SECONDS)
    left = max(1, math.ceil((number + 1) * WINDOW_SECONDS - now))
    return number, left


class MemoryRateLimiter:
    """Fixed one-minute windows per identity, in this process only."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, identity: str) -> Decision:
        number, left = _window(time.time())
        with self._lock:
            window, count = self._counts.get(identity, (number, 0))
            if window != number:
                count = 0
            count += 1
            self._counts[identity] = (number, count)
            if len(self._counts) > 100_000:
                # Old windows of idle keys are dropped so the table cannot grow without bound.
                self._counts = {k: v for k, v in self._counts.items() if v[0] == number}
        return Decision(True, 0) if count <= self.per_minute else Decision(False, left)


class RedisRateLimiter:
    """Fixed one-minute windows in Redis (INCR + EXPIRE in one pipeline), shared by every worker."""

    def __init__(self, url: str, per_minute: int, prefix: str = "pm:ratelimit") -> None:
        import redis

        self.per_minute = per_minute
        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    def hit(self, identity: str) -> Decision:
        number, left = _window(time.time())
        key = f"{self.prefix}:{identity}:{number}"
        pipe = self.client.pipeline()
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS + 5)
        count = int(pipe.execute()[0])
        return Decision(True, 0) if count <= self.per_minute else Decision(False, left)


def make_rate_limiter(redis_url: str | None, per_minute: int) -> RateLimiter:
    if redis_url:
        logger.info("rate limit %d/min per key, shared in Redis", per_minute)
        return RedisRateLimiter(redis_url, per_minute)
    return MemoryRateLimiter(per_minute)
