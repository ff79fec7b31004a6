"""Database URLs and driver messages with their passwords masked, for ``StoreError`` and logs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

_USERINFO = re.compile(r"(?P<head>://[^:/@?#]*):[^@/?#]*@")


def _is_secret_key(key: str) -> bool:
    return "password" in key.lower()


def redact_url(url: str) -> str:
    """``url`` with any password (in the user info or a ``password=`` parameter) as ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub(r"\g<head>:***@", url)
    redacted = url
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostinfo}"
        redacted = redacted.replace(f"//{parts.netloc}", f"//{netloc}", 1)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if any(_is_secret_key(key) for key, _ in pairs):
        query = urlencode([(key, "***" if _is_secret_key(key) else value) for key, value in pairs],
                          safe="*")
        head, _, _ = redacted.partition("?")
        redacted = f"{head}?{query}" + (f"#{parts.fragment}" if parts.fragment else "")
    return redacted


def url_secrets(url: str) -> tuple[str, ...]:
    """Every spelling of the passwords in ``url``, to scrub them out of driver messages."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
        userinfo, at, _ = parts.netloc.rpartition("@")
        if at and ":" in userinfo:
            found.add(userinfo.split(":", 1)[1])
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if _is_secret_key(key):
                found.add(value)
    except ValueError:
        match = re.search(r"://[^:/@]*:([^@]*)@", url)
        if match:
            found.add(match.group(1))
    found |= {unquote(secret) for secret in found}
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


def one_line(text: object, secrets: Iterable[str] = (), limit: int = 300) -> str:
    """A driver message as one short line with the given secrets masked."""
    message = str(text)
    for secret in secrets:
        message = message.replace(secret, "***")
    message = " ".join(message.split()) or type(text).__name__
    return message if len(message) <= limit else message[: limit - 3] + "..."


def first_line(text: object, secrets: Iterable[str] = ()) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return one_line(lines[0] if lines else text, secrets)
