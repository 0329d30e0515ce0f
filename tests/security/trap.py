"""A service on loopback that hostile entries and sync URLs point a node at: it counts what reaches it and answers
with a body the node must never echo, or with a huge body the node must not read whole."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.e2e.conftest import free_port

SECRET = b"internal service: secret=hunter2"


@dataclass
class Trap:
    """Where it listens, what reached it, and what it answers."""

    url: str
    hits: list[str] = field(default_factory=list)
    status: int = 500
    body_bytes: int = 0
    """0: answer ``SECRET``; otherwise that many bytes (streamed, without a Content-Length)."""


@contextmanager
def trap_server() -> Iterator[Trap]:
    """Run a trap on a free loopback port for the block."""
    port = free_port()
    trap = Trap(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def handle_any(self) -> None:
            trap.hits.append(f"{self.command} {self.path}")
            self.send_response(trap.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            if not trap.body_bytes:
                self.wfile.write(b'{"title": "%s", "detail": "%s"}' % (SECRET, SECRET))
                return
            piece = b"x" * (1 << 20)
            try:
                for _ in range(trap.body_bytes >> 20):
                    self.wfile.write(piece)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the node stopped reading: what it should do

        def do_GET(self) -> None:
            self.handle_any()

        def do_POST(self) -> None:
            self.handle_any()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield trap
    finally:
        server.shutdown()
        server.server_close()
