"""Server subprocesses for tests and benchmarks: a free local port, and waiting until one is ready."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

READY_PATH = "/health/ready"
OUTPUT_TAIL = 3000  # characters of the server's output shown when it fails to start


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(
    url: str, proc: subprocess.Popen[bytes], seconds: float, log: Path | None = None, path: str = READY_PATH
) -> None:
    """Return once `url`'s readiness probe answers 200; fail with the server's output tail if it exits or
    `seconds` pass. The output is `log` when the server writes there, else its piped stdout."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{_output(proc, log)[-OUTPUT_TAIL:]}")
        time.sleep(0.1)
    # A running server's pipe has no end to read to: its output is shown only when it goes to `log`.
    tail = f":\n{_output(proc, log)[-OUTPUT_TAIL:]}" if log is not None else ""
    pytest.fail(f"server not ready after {seconds:.0f} s{tail}")


def _output(proc: subprocess.Popen[bytes], log: Path | None) -> str:
    if log is not None:
        return log.read_text(errors="replace")
    return proc.stdout.read().decode(errors="replace") if proc.stdout else ""
