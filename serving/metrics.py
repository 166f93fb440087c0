"""Prometheus metrics of one app (own registry, so several apps in one process never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    """Latency histogram and request count per route, errors per route and code, the model served."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "pm_request_duration_seconds",
            "Request latency by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "pm_requests",
            "Requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "pm_errors",
            "Responses with status >= 400 by route",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.model_info = Info("pm_model", "The model version being served", registry=self.registry)
        self.model_loaded = Gauge(
            "pm_model_loaded", "1 when a verified model is serving", registry=self.registry
        )
        self.reloads = Counter(
            "pm_model_reloads", "Reload attempts by result", ["result"], registry=self.registry
        )

    def set_model(self, version: str | None) -> None:
        self.model_info.info({"version": version or ""})
        self.model_loaded.set(1 if version else 0)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route).observe(seconds)
        self.requests.labels(method, route, str(status)).inc()
        if status >= 400:
            self.errors.labels(method, route, str(status)).inc()
