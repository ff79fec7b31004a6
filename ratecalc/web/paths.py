"""URL converters: record ids in paths are ASCII digits within a SQL Server int.

Werkzeug's ``int`` converter takes any Unicode digit (``/v1/orders/١٠٠١`` would
resolve to order 1001) and any size; an id path segment that is not 1..2^31-1
in ASCII digits is simply no such resource: a 404.
"""

from __future__ import annotations

from werkzeug.routing import BaseConverter, ValidationError

from ratecalc.bounds import MAX_ID


class RecordIdConverter(BaseConverter):
    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


CONVERTERS = {"id": RecordIdConverter}
