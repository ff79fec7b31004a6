"""``ratecalc alerts test``: a test message to every channel, and what each answered.

The message goes straight to the channels (not through the outbox), so the
answer printed is the mail server's or the webhook's own. Exit status 0 when
every channel took it, 1 when one did not, 2 for a configuration error.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime

from ratecalc.settings import Settings


def add_alert_commands(sub) -> None:
    alerts = sub.add_parser("alerts", help="alerts (errors sent to a person)",
                            description="alerts (errors sent to a person)")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="COMMAND")
    test = alerts_sub.add_parser("test", help="send a test message to every channel and "
                                 "print what each answered")
    test.set_defaults(handler=cmd_alerts_test)


def sample_message(now: datetime) -> tuple[str, str]:
    from ratecalc.alerts.records import Alert
    from ratecalc.alerts.render import render

    alert = Alert(id=0, kind="test", key="test", severity="info",
                  summary="a test message from 'ratecalc alerts test'",
                  details={"host": socket.gethostname()}, state="open", first_seen=now,
                  last_seen=now, count=1, resolved_at=None, notified_at=None, notify_due=None)
    return render([alert], now, f"on {socket.gethostname()}")


def send_test(settings: Settings, *, context=None, out=print) -> int:
    from ratecalc.alerts.channels import ChannelError, build_channels
    from ratecalc.alerts.records import Scrubber

    scrub = Scrubber(settings.secrets())
    channels, warnings = build_channels(settings, context=context)
    for warning in warnings:
        out(f"warning: {warning}")
    subject, body = sample_message(datetime.now(UTC))
    failed = 0
    for name, channel in sorted(channels.items()):
        try:
            answer = channel.send(subject, body)
        except ChannelError as exc:
            failed += 1
            out(f"{name}: FAILED ({channel.describe()}): {scrub(exc)}")
            continue
        out(f"{name}: ok ({channel.describe()}): {scrub(answer)}")
    return 1 if failed else 0


def cmd_alerts_test(args) -> int:
    from ratecalc.logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return send_test(settings)
