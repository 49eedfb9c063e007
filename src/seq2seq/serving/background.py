"""`BackgroundServer`: an application served by uvicorn in a thread, for tests and benchmarks."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

LOOPBACK = "127.0.0.1"


class BackgroundServer:
    """Serves an ASGI application on a free loopback port in a daemon thread.

    Args:
        app: The application (see `seq2seq.serving.app.create_app`).
        host: The address to listen on.
        port: The port; 0 picks a free one.
        timeout: Seconds to wait for the server to start or stop.

    Example:

    >>> from seq2seq.serving.background import BackgroundServer
    >>> with BackgroundServer(app) as server:  # doctest: +SKIP
    ...     httpx.get(server.url + "/health").json()["status"]
    'ok'
    """

    def __init__(self, app, host: str = LOOPBACK, port: int = 0, timeout: float = 30.0):
        self.app = app
        self.host = host
        self.timeout = timeout
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=timeout)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def start(self) -> BackgroundServer:
        """Starts serving; returns once the server accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + self.timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stops serving (requests in progress are answered first) and closes the socket."""
        self.server.should_exit = True
        self.thread.join(self.timeout)
        self.socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
