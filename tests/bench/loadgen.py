"""The Python load generator: asyncio HTTP/1.1 keep-alive clients in 1..N processes.

Run as ``python -m tests.bench.loadgen`` with a JSON spec on stdin; prints a JSON
result. :func:`run` does exactly that from the benchmark. Two modes:

* ``rate``: one fixed request as fast as possible on ``connections`` keep-alive
  connections spread over ``procs`` processes for ``seconds``; answers
  ``{"requests", "rps", "statuses", "errors"}``.
* ``sequence``: a list of requests (each names one of ``targets``) on ``concurrency``
  workers, in list order; with ``seconds`` the list is cycled until then and
  whatever is still in flight is abandoned; with ``interval`` each worker starts a
  request every ``interval`` seconds (paced) instead of at once. Answers
  ``{"results": [[index, status, start, latency, header, body]], "elapsed", "t0"}``:
  ``start`` counts from ``t0`` (epoch seconds), ``header`` is the value of the
  ``keep`` header, ``body`` the answer's text when ``bodies`` is set and it was 200.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import time
from multiprocessing import get_context


def encode(host: str, port: int, request: dict) -> bytes:
    body = (request.get("body") or "").encode()
    lines = [f"{request.get('method', 'POST')} {request['path']} HTTP/1.1",
             f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    if body:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in (request.get("headers") or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Conn:
    """One keep-alive connection; reopened when the server closed it."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, raw: bytes) -> tuple[int, dict, bytes]:
        for attempt in (1, 2):
            fresh = self.writer is None
            if fresh:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(raw)
                return await self._read()
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if fresh or attempt == 2:  # a stale keep-alive connection gets one retry
                    raise
        raise AssertionError("unreachable")

    async def _read(self) -> tuple[int, dict, bytes]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return b"".join(parts)
            parts.append(chunk[:-2])


# -- rate ---------------------------------------------------------------------------
async def _rate(spec: dict, connections: int) -> dict:
    host, port = spec["target"]
    raw = encode(host, port, spec["request"])
    statuses: dict[str, int] = {}
    errors = 0
    stop = time.monotonic() + spec["seconds"]

    async def client():
        nonlocal errors
        conn = Conn(host, port)
        while time.monotonic() < stop:
            try:
                status, _, _ = await conn.send(raw)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                conn.close()
        conn.close()

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.monotonic() - started
    return {"requests": sum(statuses.values()), "elapsed": elapsed, "statuses": statuses,
            "errors": errors}


def _rate_process(args) -> dict:
    spec, connections = args
    return asyncio.run(_rate(spec, connections))


def rate(spec: dict) -> dict:
    procs = max(1, min(spec.get("procs", 1), spec["connections"]))
    shares = [spec["connections"] // procs + (i < spec["connections"] % procs)
              for i in range(procs)]
    with get_context("fork").Pool(procs) as pool:
        parts = pool.map(_rate_process, [(spec, n) for n in shares])
    statuses: dict[str, int] = {}
    for part in parts:
        for status, n in part["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    return {"requests": sum(p["requests"] for p in parts),
            "rps": sum(p["requests"] / p["elapsed"] for p in parts),
            "statuses": statuses, "errors": sum(p["errors"] for p in parts), "procs": procs}


# -- sequence -----------------------------------------------------------------------
async def _sequence(spec: dict) -> dict:
    targets = [tuple(t) for t in spec["targets"]]
    requests = spec["requests"]
    raws = [encode(*targets[r.get("t", 0)], r) for r in requests]
    keep = (spec.get("keep") or "").lower()
    bodies = spec.get("bodies", False)
    seconds = spec.get("seconds")
    order = itertools.cycle(range(len(raws))) if seconds else iter(range(len(raws)))
    results: list = []
    epoch, started = time.time(), time.monotonic()

    interval = spec.get("interval") or 0.0  # seconds between a worker's request starts

    async def worker():
        conns = [Conn(*t) for t in targets]
        due = time.monotonic()
        try:
            for index in order:
                conn = conns[requests[index].get("t", 0)]
                if interval:  # paced: a steady offered rate, as an order screen sends
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    due += interval
                begin = time.monotonic()
                try:
                    status, headers, body = await conn.send(raws[index])
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    conn.close()
                    status, headers, body = 0, {}, b""
                text = body.decode() if bodies and status == 200 else None
                results.append([index, status, begin - started, time.monotonic() - begin,
                                headers.get(keep), text])
        finally:
            for conn in conns:
                conn.close()

    tasks = [asyncio.ensure_future(worker()) for _ in range(spec.get("concurrency", 1))]
    if seconds:
        await asyncio.wait(tasks, timeout=seconds)
        for task in tasks:
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"results": results, "elapsed": time.monotonic() - started, "t0": epoch}


def main() -> None:
    spec = json.load(sys.stdin)
    result = rate(spec) if spec["mode"] == "rate" else asyncio.run(_sequence(spec))
    json.dump(result, sys.stdout)


def run(spec: dict, timeout: float = 900) -> dict:
    """Run the generator in its own process and return its answer."""
    done = subprocess.run([sys.executable, "-m", "tests.bench.loadgen"],
                          input=json.dumps(spec).encode(), capture_output=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout)


if __name__ == "__main__":
    main()
