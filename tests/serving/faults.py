"""A TCP proxy in front of a real PostgreSQL or Redis, switched to refuse or to hang connections."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Literal

Mode = Literal["up", "refused", "unreachable"]


class FaultProxy:
    """Outages without stopping the shared servers: point the app at `port` and switch the mode.

    - "up": connections are forwarded to the real server;
    - "refused": nothing listens (connect fails at once with ECONNREFUSED);
    - "unreachable": the port accepts TCP but no byte ever comes back, like a blackholed host.

    Leaving "up" closes the open connections: on a real network their TCP timeouts would end them too.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "refused"  # until the listener below is up
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._listener: socket.socket | None = None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.set("up")

    def set(self, mode: Mode) -> None:
        if mode == self.mode:
            return  # no change: open connections stay open
        with self._lock:
            self._close_listener()
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._connections.clear()
            self.mode = mode
            if mode == "refused":
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            # Unreachable: the kernel completes handshakes into the backlog, the proxy never accepts them.
            listener.listen(128)
            self._listener = listener
        if mode == "up":
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        self.set("refused")

    def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed by a mode switch
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
