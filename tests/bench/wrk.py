"""wrk (Debian package ``wrk``) with a Lua script that posts one fixed request."""

from __future__ import annotations

import re
import subprocess
import tempfile


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def script(request: dict) -> str:
    lines = [f'wrk.method = "{request.get("method", "POST")}"']
    if request.get("body"):
        lines.append(f"wrk.body = {lua_string(request['body'])}")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    for name, value in (request.get("headers") or {}).items():
        lines.append(f'wrk.headers["{name}"] = {lua_string(value)}')
    return "\n".join(lines) + "\n"


def version() -> str:
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).splitlines()[0].split(" [")[0].strip()


def rate(url: str, request: dict, *, seconds: float, connections: int,
         threads: int = 1) -> dict:
    """Requests/s of one fixed request; the same answer shape as ``loadgen`` ``rate``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script(request))
        lua.flush()
        done = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             "--timeout", "10s", "-s", lua.name, url + request["path"]],
            capture_output=True, text=True, timeout=seconds + 60, check=False)
    out = done.stdout
    match = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if done.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed: {done.stderr or out}")
    total = re.search(r"(\d+) requests in", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    return {"requests": int(total.group(1)) if total else 0, "rps": float(match.group(1)),
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "errors": sum(int(g) for g in errors.groups()) if errors else 0, "procs": threads}
