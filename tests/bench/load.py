"""One entry point for load, whichever generator runs it."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.bench import loadgen, wrk


def hostport(url: str) -> list:
    parts = urlsplit(url)
    return [parts.hostname, parts.port]


def rate(config, url: str, request: dict, seconds: float | None = None,
         connections: int | None = None) -> dict:
    """Requests/s of one fixed request against ``url`` (wrk, or the Python generator)."""
    seconds = config.seconds if seconds is None else seconds
    connections = connections or config.connections
    if config.loadgen == "wrk":
        return wrk.rate(url, request, seconds=seconds, connections=connections)
    result = loadgen.run({"mode": "rate", "target": hostport(url), "request": request,
                          "connections": connections, "seconds": seconds,
                          "procs": config.loadgen_procs})
    result["non_2xx"] = sum(n for s, n in result["statuses"].items() if not s.startswith("2"))
    return result


def sequence(urls: list[str], requests: list[dict], *, concurrency: int = 1,
             seconds: float | None = None, keep: str | None = None,
             bodies: bool = False, interval: float = 0.0) -> dict:
    """Send ``requests`` (each names its target by index into ``urls``); see loadgen."""
    return loadgen.run({"mode": "sequence", "targets": [hostport(u) for u in urls],
                        "requests": requests, "concurrency": concurrency, "seconds": seconds,
                        "keep": keep, "bodies": bodies, "interval": interval})


def generator_name(config) -> str:
    if config.loadgen == "wrk":
        return f"{wrk.version()} (-t1 -c{config.connections}, Lua POST script)"
    return (f"tests.bench.loadgen (asyncio keep-alive, {config.loadgen_procs} process(es), "
            f"{config.connections} connections)")
