"""Which upstreams refused the stored credentials lately, for the alert loop.

:func:`ratecalc.upstream.transport.run_call` reports every call's outcome here:
a refusal (``upstream_auth``: a 401 or 403) or a call that went through. The
alert loop reads and clears the news (:func:`take`), so a refusal becomes one
``credentials_refused`` alert and a later accepted call resolves it. Memory only,
per process, and a few dictionary writes under a lock per call.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class AuthState:
    refused: int = 0  # refusals since the last take()
    message: str = ""
    status: int | None = None
    last_refused: float = 0.0
    last_accepted: float = 0.0


_lock = threading.Lock()
_states: dict[str, AuthState] = {}


def record(service: str, *, refused: bool, message: str = "", status: int | None = None,
           clock=time.time) -> None:
    name = service.lower()
    with _lock:
        state = _states.setdefault(name, AuthState())
        if refused:
            state.refused += 1
            state.message, state.status, state.last_refused = message, status, clock()
        else:
            state.last_accepted = clock()


def take() -> dict[str, AuthState]:
    """A copy of every upstream's state; the refusal counts start again at zero."""
    with _lock:
        copies = {name: AuthState(**vars(state)) for name, state in _states.items()}
        for state in _states.values():
            state.refused = 0
    return copies


def reset() -> None:
    with _lock:
        _states.clear()
