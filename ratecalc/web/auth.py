"""Credential checks: bearer tokens for the API, Basic for the Custom Store.

Every comparison is constant-time (see :mod:`ratecalc.secrets`) and every
token is compared, so timing says nothing about which one matched.
"""

from __future__ import annotations

import base64

from flask import request

from ratecalc.secrets import Secret, any_matches
from ratecalc.web.errors import ApiError


def bearer_token() -> str | None:
    return bearer_in(request.headers.get("Authorization", ""))


def bearer_in(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else None."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_bearer(tokens: tuple[Secret, ...]) -> None:
    """Raise 401 unless the request carries one of ``tokens``."""
    token = bearer_token()
    if token is None:
        raise ApiError(401, "unauthorized", "Send 'Authorization: Bearer <token>'.",
                       headers={"WWW-Authenticate": 'Bearer realm="ratecalc"'})
    if not any_matches(tokens, token):
        raise ApiError(401, "unauthorized", "The bearer token is not valid.",
                       headers={"WWW-Authenticate":
                                'Bearer realm="ratecalc", error="invalid_token"'})


def basic_credentials() -> tuple[str, str] | None:
    """(username, password) from an ``Authorization: Basic`` header, if well-formed."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, a non-ASCII header ("Basic \xe9")
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def credentials_match(username: str | None, password: str | None,
                      expected_user: str, expected_passwords: tuple[Secret, ...]) -> bool:
    """The store's user and one of its passwords (a list, so it can be rotated)."""
    user_ok = Secret(expected_user).matches(username)
    password_ok = any_matches(expected_passwords, password)
    return user_ok & password_ok
