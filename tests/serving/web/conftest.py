"""Browser fixtures: Debian's headless Chromium driven by Playwright, against a real uvicorn per module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from serving.auth import create_key
from serving.persistence import ApiStore
from tests.servers import free_port, wait_until_ready
from tests.serving.conftest import ServedModel

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Screenshots for people to look at: written only when this names a folder, so `make test` never changes
# the source tree (`PM_SCREENSHOTS=bench/results/screenshots pytest tests/serving/web` refreshes them).
SCREENSHOTS_ENV = "PM_SCREENSHOTS"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
READY_SECONDS = 90.0


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium (Playwright's own download needs the internet); installed when missing."""
    if not CHROMIUM.exists():
        apt = shutil.which("apt-get")
        result = (
            subprocess.run([apt, "install", "-y", "chromium"], capture_output=True, text=True, timeout=900)
            if apt
            else None
        )
        if result is None or result.returncode != 0 or not CHROMIUM.exists():
            reason = result.stderr.strip().splitlines()[-1:] if result else ["apt-get not found"]
            pytest.skip(f"Chromium is missing and `apt-get install -y chromium` failed: {reason}")
    return CHROMIUM


@dataclass(frozen=True)
class PageServer:
    """A uvicorn serving the app; keys: `rep` (read, write) and `viewer` (read only)."""

    url: str
    rep_key: str
    viewer_key: str
    database: str


def start_server(served_model: ServedModel, folder: Path, **env_extra: str) -> Iterator[PageServer]:
    # A copy of the home's store: partner profiles and closed deals for the profile and KPI pages.
    shutil.copy(served_model.settings.home / "store.db", folder / "api.db")
    database = f"sqlite:///{folder / 'api.db'}"
    store = ApiStore.open(database)
    _, rep = create_key(store, "rep", ["read", "write"])
    _, viewer = create_key(store, "viewer", ["read"])
    store.engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_") and k != "MLFLOW_TRACKING_URI"}
    env.update(
        PM_HOME=str(served_model.settings.home),
        PM_EMBEDDER="hashing",
        PM_DATABASE_URL=database,
        PM_SESSION_SECRET="test-session-secret-" + "x" * 32,
        **env_extra,
    )
    port = free_port()
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "serving.main:app", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Generous: on a busy 2-core machine the model load alone can take tens of seconds.
        wait_until_ready(url, proc, READY_SECONDS, log=folder / "server.log")
        yield PageServer(url, rep, viewer, database)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture()
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Pages in fresh contexts (no cookies shared between tests), desktop-sized unless told."""
    contexts = []

    def make(viewport: dict[str, int] | None = None) -> Page:
        context = browser.new_context(viewport=viewport or DESKTOP)  # type: ignore[arg-type]
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Page, server: PageServer, key: str | None = None) -> None:
    page.goto(f"{server.url}/")
    page.get_by_label("API key").fill(key or server.rep_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/")


def screenshot(page: Page, name: str) -> None:
    folder = os.environ.get(SCREENSHOTS_ENV)
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(folder) / name), full_page=True)
