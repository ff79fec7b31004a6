"""Reference servers for figure 1.

``python -m tests.bench.bareapp flask --port P --workers N --threads T --body FILE``
serves a bare Flask app (one route answering a constant JSON body, the bytes of a
real ratecalc answer) under exactly the gunicorn options ratecalc's ``serve`` uses.

``python -m tests.bench.bareapp trivial --port P`` is a minimal asyncio HTTP/1.1
server (no framework, no parsing beyond framing): the load generator's ceiling is
measured against it, to show the generator is not what limits figure 1.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from flask import Flask, Response


def bare_app(body: bytes) -> Flask:
    app = Flask("bare")

    @app.get("/healthz")
    def healthz():
        return Response(b'{"status":"ok"}', mimetype="application/json")

    @app.post("/v1/rates")
    def rates():
        return Response(body, mimetype="application/json")

    return app


def serve_flask(port: int, workers: int, threads: int, body: bytes) -> None:
    from gunicorn.app.base import BaseApplication

    from ratecalc.app.serving import gunicorn_options, metrics_dir

    metrics_dir()  # the same start-up as ``ratecalc serve``

    class Application(BaseApplication):
        def load_config(self):
            options = gunicorn_options(host="127.0.0.1", port=port, workers=workers,
                                       threads=threads, log_level="INFO")
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return bare_app(body)

    Application().run()


OK = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
      b'{"status":"ok"}')


class Trivial(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.transport.write(OK)


def serve_trivial(port: int) -> None:
    async def run():
        server = await asyncio.get_running_loop().create_server(
            Trivial, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    asyncio.run(run())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("flask", "trivial"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--body", type=Path)
    args = parser.parse_args(argv)
    if args.kind == "trivial":
        serve_trivial(args.port)
    else:
        serve_flask(args.port, args.workers, args.threads, args.body.read_bytes())


if __name__ == "__main__":
    main()
