"""ShipStation's US dates: one pattern and one AM/PM rule for the export window and the
ship notice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ratecalc.shop.export.window import WindowDateError, parse_window_date
from ratecalc.shop.notices.parse import parse_ship_notice
from ratecalc.shop.shipstation_dates import hour_of_day

from .test_ship_notice import notice


@pytest.mark.parametrize("hour, meridiem, expected", [
    (12, "AM", 0), (12, "pm", 12), (1, "am", 1), (1, "PM", 13), (11, "Pm", 23),
    (17, None, 17), (0, None, 0), (0, "AM", None), (13, "PM", None),
])
def test_hour_of_day(hour, meridiem, expected):
    assert hour_of_day(hour, meridiem) == expected


AM_PM = [
    ("10/19/2019 12:56 AM", datetime(2019, 10, 19, 0, 56, tzinfo=UTC)),
    ("10/19/2019 12:56 PM", datetime(2019, 10, 19, 12, 56, tzinfo=UTC)),
    ("10/19/2019 1:56:30 pm", datetime(2019, 10, 19, 13, 56, 30, tzinfo=UTC)),
    ("10/19/2019 11:05AM", datetime(2019, 10, 19, 11, 5, tzinfo=UTC)),
]


@pytest.mark.parametrize("text, expected", AM_PM)
def test_am_pm_reads_the_same_in_the_export_window(text, expected):
    assert parse_window_date(text, "start_date")[0] == expected


@pytest.mark.parametrize("text, expected", AM_PM)
def test_am_pm_reads_the_same_in_a_ship_notice(text, expected):
    parsed = parse_ship_notice(notice(f"<LabelCreateDate>{text}</LabelCreateDate>"))
    assert parsed.label_create_date == expected


def test_an_hour_am_pm_cannot_qualify():
    # The window refuses it; a notice reads it as written, as ShipStation's docs do.
    with pytest.raises(WindowDateError, match="hour 21 is not valid with AM/PM"):
        parse_window_date("10/19/2019 21:56 PM", "end_date")
    parsed = parse_ship_notice(notice("<LabelCreateDate>10/19/2019 21:56 PM</LabelCreateDate>"))
    assert parsed.label_create_date == datetime(2019, 10, 19, 21, 56, tzinfo=UTC)
