"""Output helpers shared by every command: JSON for scripts (below cli and the commands)."""

from __future__ import annotations

import json
from decimal import Decimal


def print_json(data) -> None:
    """Indented JSON on stdout; money (Decimal) as JSON numbers, anything else as text."""
    print(json.dumps(data, indent=2, default=lambda o: float(o) if isinstance(o, Decimal)
                     else str(o)))
