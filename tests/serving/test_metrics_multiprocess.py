"""Metrics of one app or of several workers (PROMETHEUS_MULTIPROC_DIR), up to a real two-worker uvicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import values
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from partnermatch.commands.serve import prepare_multiprocess_metrics
from serving.metrics import MULTIPROC_ENV, ApiMetrics
from serving.persistence import ApiStore
from tests.serving.conftest import ApiFactory, ServedModel

REPO = Path(__file__).resolve().parents[2]
LIVE = "/health/live"


def live_requests(exposition: str) -> float:
    """The GET /health/live requests counted in a text exposition, summed over statuses."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "pm_requests_total" and sample.labels.get("route") == LIVE
    )


@pytest.fixture()
def single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)


@pytest.fixture()
def multiprocess_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process in multiprocess mode, as a worker started with PROMETHEUS_MULTIPROC_DIR set is.

    prometheus_client chooses between in-memory and file-backed values once, when it is imported, from
    that variable; the variable alone is therefore set too late here, so the file-backed value class the
    import would have chosen is installed as well (prometheus_client's own tests do the same).
    """
    directory = tmp_path / "prometheus"
    directory.mkdir()
    monkeypatch.setenv(MULTIPROC_ENV, str(directory))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue())
    return directory


def test_two_apps_in_one_process_keep_separate_counts_without_multiprocess_mode(single_process: None) -> None:
    first, second = ApiMetrics(), ApiMetrics()
    first.observe("GET", LIVE, 200, 0.01)
    assert live_requests(first.render().decode()) == 1
    assert live_requests(second.render().decode()) == 0


def test_a_reload_zeroes_the_previous_version_and_marks_the_new_one(single_process: None) -> None:
    metrics = ApiMetrics()
    metrics.set_model("1")
    metrics.set_model("2")
    text = metrics.render().decode()
    assert 'pm_model_version_info{version="1"} 0.0' in text
    assert 'pm_model_version_info{version="2"} 1.0' in text
    assert "pm_model_loaded 1.0" in text


def test_a_scrape_in_multiprocess_mode_counts_the_requests_of_every_app(
    multiprocess_dir: Path, make_api: ApiFactory
) -> None:
    first, second = make_api(), make_api()
    first.client.get(LIVE)
    second.client.get(LIVE)
    second.client.get(LIVE)
    assert live_requests(first.client.get("/metrics").text) == 3


def test_interleaved_observations_in_multiprocess_mode_are_not_lost(multiprocess_dir: Path) -> None:
    # Two sets of metric objects over one process's files would each cache the value and overwrite
    # the other's writes: first writes 1, second 2, first its own 1 + 1 = 2 again.
    first, second = ApiMetrics(), ApiMetrics()
    first.observe("GET", LIVE, 200, 0.01)
    second.observe("GET", LIVE, 200, 0.01)
    first.observe("GET", LIVE, 200, 0.01)
    assert live_requests(second.render().decode()) == 3


def test_multiprocess_mode_set_after_prometheus_was_imported_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    with pytest.raises(RuntimeError, match="after prometheus_client was imported"):
        ApiMetrics()


def test_a_scrape_forgets_the_live_gauges_of_an_exited_worker_but_keeps_its_counts(
    multiprocess_dir: Path,
) -> None:
    # The exited worker had no model: while its gauge file counted, the minimum over workers said 0.
    script = (
        "from serving.metrics import ApiMetrics\n"
        "metrics = ApiMetrics()\n"
        "metrics.set_model(None)\n"
        "metrics.observe('GET', '/health/live', 200, 0.01)\n"
    )
    env = {**os.environ, MULTIPROC_ENV: str(multiprocess_dir)}
    subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, check=True, timeout=120)
    metrics = ApiMetrics()
    metrics.set_model("1")
    text = metrics.render().decode()
    assert "pm_model_loaded 1.0" in text
    assert live_requests(text) == 1


def test_serve_with_several_workers_points_them_at_an_emptied_folder_under_home(tmp_path: Path) -> None:
    stale = tmp_path / "prometheus-multiproc" / "counter_123.db"
    stale.parent.mkdir()
    stale.write_bytes(b"from an earlier run")
    environ: dict[str, str] = {}
    folder = prepare_multiprocess_metrics(2, tmp_path, environ)
    assert environ == {MULTIPROC_ENV: str(stale.parent.resolve())} and folder == stale.parent.resolve()
    assert not stale.exists()


def test_serve_keeps_a_folder_the_operator_chose_as_it_is(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "counter_123.db").write_bytes(b"not ours to delete")
    environ = {MULTIPROC_ENV: str(theirs)}
    assert prepare_multiprocess_metrics(4, tmp_path / "home", environ) == theirs
    assert environ == {MULTIPROC_ENV: str(theirs)} and (theirs / "counter_123.db").exists()


def test_serve_with_one_worker_stays_in_single_process_mode(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert prepare_multiprocess_metrics(1, tmp_path, environ) is None
    assert environ == {} and not (tmp_path / "prometheus-multiproc").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Workers:
    url: str
    metrics_dir: Path


def live_requests_per_worker(metrics_dir: Path) -> dict[str, float]:
    """GET /health/live requests per worker pid, read from each worker's own counter file."""
    counts: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = path.stem.split("_")[1]
        families = MultiProcessCollector.merge([str(path)])
        counts[pid] = sum(
            sample.value
            for family in families
            for sample in family.samples
            if sample.name == "pm_requests_total" and sample.labels.get("route") == LIVE
        )
    return {pid: count for pid, count in counts.items() if count}


@pytest.fixture()
def two_workers(served_model: ServedModel, tmp_path: Path) -> Iterator[Workers]:
    """`uvicorn serving.main:app --workers 2` on the trained home, both workers with their model loaded."""
    database = f"sqlite:///{tmp_path / 'api.db'}"
    # Migrated here, once: two workers starting on a fresh database would race to migrate it.
    ApiStore.open(database).engine.dispose()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_") and k != "MLFLOW_TRACKING_URI"}
    env.update(
        PM_HOME=str(served_model.settings.home),
        PM_EMBEDDER="hashing",
        PM_DATABASE_URL=database,
        **{MULTIPROC_ENV: str(metrics_dir)},
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # A file, not a pipe: a full pipe would block the workers' logging and then the workers.
    log = (tmp_path / "uvicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "serving.main:app", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Both workers are up when each has its gauge file and the minimum over them says "loaded".
        # Generous: on a busy 2-core machine two model loads at once can take tens of seconds.
        for _ in range(1200):
            if proc.poll() is not None:
                break
            try:
                scrape = httpx.get(f"{url}/metrics", timeout=2).text
            except httpx.TransportError:
                scrape = ""
            if "pm_model_loaded 1.0" in scrape and len(list(metrics_dir.glob("gauge_livemin_*.db"))) == 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail("two workers not ready after 120 s")
        if proc.returncode is not None:
            pytest.fail(f"uvicorn exited with {proc.returncode}:\n{(tmp_path / 'uvicorn.log').read_text()}")
        yield Workers(url, metrics_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.integration
def test_metrics_of_a_two_worker_server_count_the_requests_of_both_workers(two_workers: Workers) -> None:
    sent = 0
    # In rounds until both workers have answered some (a new connection each, so the kernel hands them
    # to either worker); with one registry per worker a scrape would miss the other worker's share.
    while sent < 400 and len(live_requests_per_worker(two_workers.metrics_dir)) < 2:
        for _ in range(20):
            assert httpx.get(f"{two_workers.url}{LIVE}", timeout=10).status_code == 200
        sent += 20
    assert len(live_requests_per_worker(two_workers.metrics_dir)) == 2
    assert live_requests(httpx.get(f"{two_workers.url}/metrics", timeout=10).text) == sent


def test_serve_lets_new_workers_load_their_model_for_the_configured_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uvicorn's own 5 s is less than loading a 100k-partner model takes, so a SIGHUP rolling restart of
    # several workers gave up on every new worker.
    import uvicorn

    from core.settings import get_settings
    from partnermatch.commands import serve as serve_command

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setattr(serve_command, "_key_header", lambda: "")
    monkeypatch.setenv("PM_WORKER_START_TIMEOUT", "45")
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path / "metrics"))
    get_settings.cache_clear()
    serve_command.serve(host=None, port=None, workers=2)
    assert calls[0]["timeout_worker_healthcheck"] == 45
