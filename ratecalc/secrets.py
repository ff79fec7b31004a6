"""A wrapper that keeps secret values out of logs, reprs and error messages."""

from __future__ import annotations

import hmac


class Secret:
    """Holds a secret string; only :meth:`reveal` gives it back.

    ``str()``/``repr()`` print a mask, so a secret that slips into an f-string,
    a log record or an exception message shows up as ``'***'``.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def matches(self, candidate: str | bytes | None) -> bool:
        """Constant-time comparison, so timing does not leak the secret."""
        if candidate is None:
            return False
        if isinstance(candidate, str):
            candidate = candidate.encode("utf-8", "surrogateescape")
        return hmac.compare_digest(self._value.encode("utf-8"), candidate)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def any_matches(secrets, candidate: str | None) -> bool:
    """True when ``candidate`` equals one of ``secrets``; every one is compared."""
    found = False
    for secret in secrets:
        # No short-circuit: the time taken does not depend on which one matched.
        found = secret.matches(candidate) | found
    return found
