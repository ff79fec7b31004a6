"""Canned replies and faults of the ShipStation simulator: error bodies, forced statuses,
transport faults (reset, half a body, slow drip)."""

from __future__ import annotations

import json
import socket
import struct
import time
import uuid
from dataclasses import dataclass

from flask import Response, jsonify, request

MALFORMED_V1 = '[{"serviceName":"UPS® Ground","serviceCode":"ups_ground","shipmentCost":12.'
MALFORMED_V2 = '[{"rate_type":"check","carrier_id":"se-12347","shipping_amount":{'
_GATEWAY = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
_V2_KINDS = {400: ("validation", "invalid_field_value"), 401: ("security", "unauthorized"),
             403: ("security", "forbidden"), 404: ("validation", "unspecified"),
             429: ("system", "rate_limit_exceeded")}


@dataclass
class Fault:
    carrier_code: str | None
    kind: str  # "status" | "malformed" | "empty" | transport: "reset" | "half" | "drip"
    status: int = 200
    body: str | None = None
    remaining: int | None = None  # None = until cleared


class Reply(Exception):
    """Not an error: carries a finished response out of a helper."""

    def __init__(self, response: Response):
        self.response = response


def json_reply(body, status: int = 200) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    return resp


def raw_reply(body: str, status: int) -> Response:
    try:
        json.loads(body)
        mimetype = "application/json"
    except ValueError:
        mimetype = "text/html" if body.lstrip().startswith("<") else "text/plain"
    return Response(body, status=status, mimetype=mimetype)


def aspnet_error(message: str, status: int = 500) -> Response:
    return json_reply({"Message": "An error has occurred.", "ExceptionMessage": message,
                  "ExceptionType": "System.Exception", "StackTrace": None}, status)


def model_state(errors: dict[str, list[str]]) -> Response:
    return json_reply({"Message": "The request is invalid.", "ModelState": errors}, 400)


def v2_error(status: int, *errors: tuple[str, str, str]) -> Response:
    return json_reply({"request_id": str(uuid.uuid4()), "errors": [
        {"error_source": "ShipStation", "error_type": etype, "error_code": code, "message": msg}
        for etype, code, msg in errors]}, status)


def v1_default(status: int) -> Response:
    """The body V1 (ASP.NET Web API behind IIS) would send with ``status``."""
    if status == 400:
        return model_state({"rateOptions": ["The request is invalid."]})
    if status == 401:
        return Response("", status=401)
    if status == 429:
        return json_reply({"message": "Too Many Requests"}, 429)
    if status in _GATEWAY:
        title = f"{status} {_GATEWAY[status]}"
        return raw_reply(f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body>"
                    "</html>", status)
    if status >= 500:
        return aspnet_error("The remote server returned an error: (500) Internal Server Error.",
                            status)
    messages = {403: "Authorization has been denied for this request.",
                404: f"No HTTP resource was found that matches the request URI '{request.url}'."}
    return json_reply({"Message": messages.get(status, "An error has occurred.")}, status)


def v2_default(status: int) -> Response:
    etype, code = _V2_KINDS.get(status, ("system", "unspecified"))
    resp = v2_error(status, (etype, code, f"Simulated error (HTTP {status})."))
    if status == 429:
        resp.headers["Retry-After"] = "1"
    return resp


def _socket_of_request():
    sock = request.environ.get("werkzeug.socket")
    if sock is None:  # not werkzeug's server: fall back to an unparseable answer
        raise Reply(Response("<html>", 502))
    return sock


def transport_fault(kind: str, seconds: float, body: str) -> Response:
    sock = _socket_of_request()
    if kind == "reset":
        # SO_LINGER 0: the close sends a TCP RST, as a crashed proxy would.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        raise Reply(Response("", 500))  # never reaches the client
    data = body.encode()

    def half():
        yield data[: len(data) // 2]
        sock.shutdown(socket.SHUT_RDWR)  # the rest never comes

    def drip():
        for byte in data:
            time.sleep(seconds)
            yield bytes([byte])

    stream = half() if kind == "half" else drip()
    return Response(stream, 200, headers={"Content-Length": str(len(data))},
                    mimetype="application/json", direct_passthrough=True)


def forced(fault: Fault, v2: bool) -> Response:
    """The reply a forced fault stands for, in V1's or V2's manner."""
    if fault.kind in ("reset", "half", "drip"):
        return transport_fault(fault.kind, float(fault.body or 0.2),
                               MALFORMED_V2 if v2 else '[{"serviceName":"Drip","serviceCode"'
                               ':"drip","shipmentCost":1.0,"otherCost":0.0}]')
    if fault.kind == "empty":
        return json_reply([])
    if fault.kind == "malformed":
        return Response(MALFORMED_V2 if v2 else MALFORMED_V1, 200, mimetype="application/json")
    if fault.body is not None:
        return raw_reply(fault.body, fault.status)
    return v2_default(fault.status) if v2 else v1_default(fault.status)
