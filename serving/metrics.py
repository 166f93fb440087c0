"""Prometheus metrics of the API: a registry per app, or files shared by all workers in multiprocess mode."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Feedback whose request is not in the audit trail (no request_id, or an unknown one).
UNKNOWN_VERSION = "unknown"
# prometheus_client's own switch: when set, every metric value lives in a per-process file in this folder.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class _Instruments:
    latency: Histogram
    requests: Counter
    errors: Counter
    model_version: Gauge
    model_loaded: Gauge
    reloads: Counter
    feedback: Counter
    shadow_requests: Counter
    shadow_top1_agreements: Counter
    shadow_skipped: Counter
    challenger_seconds: Histogram


def _instruments(registry: CollectorRegistry | None) -> _Instruments:
    return _Instruments(
        latency=Histogram(
            "pm_request_duration_seconds",
            "Request latency by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        requests=Counter(
            "pm_requests", "Requests by route and status", ["method", "route", "status"], registry=registry
        ),
        errors=Counter(
            "pm_errors",
            "Responses with status >= 400 by route",
            ["method", "route", "status"],
            registry=registry,
        ),
        # A gauge per version rather than an Info metric, which multiprocess mode does not support.
        # "livemax": 1 while at least one live worker serves that version, so a rolling reload shows
        # both versions until every worker has swapped.
        model_version=Gauge(
            "pm_model_version_info",
            "1 for the model version being served",
            ["version"],
            registry=registry,
            multiprocess_mode="livemax",
        ),
        # "livemin": 1 only when every live worker has a verified model. Any request may land on any
        # worker, so one worker without a model already means failed requests; a worker still starting
        # counts as 0 until its model is loaded.
        model_loaded=Gauge(
            "pm_model_loaded",
            "1 when a verified model is serving (in every worker)",
            registry=registry,
            multiprocess_mode="livemin",
        ),
        reloads=Counter("pm_model_reloads", "Reload attempts by result", ["result"], registry=registry),
        feedback=Counter(
            "pm_feedback",
            "Rep feedback by the model version that answered its request, action and reason code",
            ["model_version", "action", "reason"],
            registry=registry,
        ),
        shadow_requests=Counter(
            "pm_shadow_requests",
            "Requests the challenger ranked again after the champion answered",
            ["champion", "challenger"],
            registry=registry,
        ),
        shadow_top1_agreements=Counter(
            "pm_shadow_top1_agreements",
            "Shadowed requests whose top-1 team was the same for champion and challenger",
            ["champion", "challenger"],
            registry=registry,
        ),
        shadow_skipped=Counter(
            "pm_shadow_skipped",
            "Sampled requests the challenger did not rank: busy (one ranking at a time) or error",
            ["reason"],
            registry=registry,
        ),
        challenger_seconds=Histogram(
            "pm_shadow_challenger_seconds",
            "Time the challenger took to rank one shadowed request (after the response was sent)",
            ["challenger"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
    )


@cache
def _process_instruments(directory: str) -> _Instruments:
    """One set of metrics per process in multiprocess mode, shared by every app of the process.

    Values are written to this process's files keyed by metric name and labels, whatever the registry:
    two sets in one process would each keep their own copy of a value and overwrite each other's writes.
    They are registered nowhere (the scrape reads the files), as prometheus_client's docs require.
    """
    if values.ValueClass is values.MutexValue:
        # prometheus_client reads the variable once, at import: set later, values stay in memory and
        # every scrape would come back empty.
        raise RuntimeError(
            f"{MULTIPROC_ENV} was set after prometheus_client was imported; set it before the process starts"
        )
    if not os.path.isdir(directory):
        raise RuntimeError(f"{MULTIPROC_ENV}={directory} is not a folder; create it (empty) before starting")
    return _instruments(registry=None)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_exited_workers(directory: str) -> None:
    """`mark_process_dead` for every worker that no longer exists, so its live gauges leave the scrape.

    Done at scrape time because nothing else can: uvicorn has no hook when a worker exits, and a worker
    stopped by SIGTERM dies of the signal (uvicorn re-raises it after shutdown), so atexit never runs.
    Counters and histograms of exited workers stay, as totals must. Pids are this host's: the folder
    holds memory-mapped files, so every worker sharing it runs here.
    """
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                mark_process_dead(int(pid), directory)
            except FileNotFoundError:
                pass  # another worker's scrape removed it first


def _scrape_folder(directory: str) -> bytes:
    """Every worker's metrics, read from their files at this moment."""
    _forget_exited_workers(directory)
    # A fresh registry per scrape, as prometheus_client's docs prescribe: the collector reads the
    # folder at collect time, so workers started or stopped since the last scrape are accounted for.
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


class ApiMetrics:
    """Latency histogram and request count per route, errors per route and code, the model served.

    Without PROMETHEUS_MULTIPROC_DIR each app has its own registry, so several apps in one process never
    collide. With it (several uvicorn workers) a scrape of any worker aggregates every worker's files.
    """

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self._render: Callable[[], bytes]
        if self.multiprocess_dir:
            instruments = _process_instruments(self.multiprocess_dir)
            self._render = partial(_scrape_folder, self.multiprocess_dir)
        else:
            registry = CollectorRegistry()
            instruments = _instruments(registry)
            self._render = partial(generate_latest, registry)
        self.latency = instruments.latency
        self.requests = instruments.requests
        self.errors = instruments.errors
        self.model_version = instruments.model_version
        self.model_loaded = instruments.model_loaded
        self.reloads = instruments.reloads
        self.feedback = instruments.feedback
        self.shadow_requests = instruments.shadow_requests
        self.shadow_top1_agreements = instruments.shadow_top1_agreements
        self.shadow_skipped = instruments.shadow_skipped
        self.challenger_seconds = instruments.challenger_seconds
        self._version: str | None = None

    def set_model(self, version: str | None) -> None:
        # The old version's series is zeroed, not removed: removal does not reach the files in
        # multiprocess mode, and zeroing reads the same in both modes.
        if self._version is not None and self._version != version:
            self.model_version.labels(self._version).set(0)
        if version:
            self.model_version.labels(version).set(1)
        self._version = version or None
        self.model_loaded.set(1 if version else 0)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route).observe(seconds)
        self.requests.labels(method, route, str(status)).inc()
        if status >= 400:
            self.errors.labels(method, route, str(status)).inc()

    def render(self) -> bytes:
        """The text exposition: this app's registry, or every worker's files."""
        return self._render()
