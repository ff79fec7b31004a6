"""Run a WSGI app as a real HTTP server on a background thread.

Tests and the sandbox use this to start the simulators (and ratecalc itself)
on an ephemeral port, so every request crosses a real socket.
"""

from __future__ import annotations

import threading

from werkzeug.serving import make_server


class ServerThread:
    """A threaded werkzeug server on ``host``:``port`` (0 = pick a free port)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0,
                 poll_interval: float = 0.05):
        self._server = make_server(host, port, app, threaded=True)
        # Many concurrent clients in tests: keep the listen backlog generous.
        self._server.socket.listen(256)
        self.host = host
        self.port = self._server.server_port
        # serve_forever checks for shutdown every poll_interval (socketserver's default
        # of 0.5 s would add half a second to every stop).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": poll_interval},
            name=f"server-{self.port}", daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
