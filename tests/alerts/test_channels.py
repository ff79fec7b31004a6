"""The channels against real servers: SMTP with STARTTLS or implicit TLS and a login,
the webhook's JSON, and ``ratecalc alerts test`` printing what each answered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from ratecalc.alerts.channels import ChannelError, EmailChannel, MailboxChannel, WebhookChannel
from ratecalc.alerts.cli import sample_message
from tests.alerts.conftest import SMTP_PASSWORD
from tests.support import wait_until


def test_mail_goes_over_starttls_with_the_login(smtp, client_tls):
    channel = EmailChannel(smtp.url(), ("ops@example.com", "oncall@example.com"),
                           "ratecalc@example.com", context=client_tls)
    subject, body = sample_message(datetime.now(UTC))
    answer = channel.send(subject, body)
    assert answer.startswith("250 OK queued as test-1")
    assert smtp.box.logins == [True] and smtp.box.tls_seen == [True]
    (message,) = smtp.box.messages
    assert message["To"] == "ops@example.com, oncall@example.com"
    assert message["From"] == "ratecalc@example.com"
    assert "test message" in message["Subject"]
    received = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert json.loads(body)["text"] in received


@pytest.mark.filterwarnings("ignore::UserWarning")  # AUTH after implicit TLS is fine
def test_mail_over_implicit_tls(smtps, client_tls):
    channel = EmailChannel(smtps.url(), ("ops@example.com",), context=client_tls)
    assert channel.send("[ratecalc] hello", '{"text": "hi"}').startswith("250")
    assert smtps.box.tls_seen == [True]


def test_an_untrusted_certificate_is_refused(smtp):
    channel = EmailChannel(smtp.url(), ("ops@example.com",))  # system CAs only
    with pytest.raises(ChannelError, match="could not send mail") as caught:
        channel.send("s", '{"text": "t"}')
    assert SMTP_PASSWORD not in str(caught.value) and smtp.box.messages == []


def test_a_wrong_password_names_the_setting_not_the_password(smtp, client_tls):
    channel = EmailChannel(smtp.url(password="wrong-password-77"), ("ops@example.com",),
                           context=client_tls)
    with pytest.raises(ChannelError, match="RATECALC_SMTP_URL") as caught:
        channel.send("s", '{"text": "t"}')
    assert "wrong-password-77" not in str(caught.value)


def test_webhook_posts_slack_compatible_json(receiver):
    subject, body = sample_message(datetime.now(UTC))
    answer = WebhookChannel(receiver.url).send(subject, body)
    assert answer == "HTTP 200 ok"
    (post,) = receiver.posts
    assert post["text"].startswith("ratecalc")
    for name in ("kind", "key", "severity", "summary", "details", "first_seen",
                 "last_seen", "count", "resolved"):
        assert name in post
    assert post["kind"] == "test" and post["resolved"] is False and post["count"] == 1


def test_webhook_errors_never_repeat_the_url(receiver):
    receiver.status = 500
    channel = WebhookChannel(receiver.url)
    with pytest.raises(ChannelError, match="answered HTTP 500") as caught:
        channel.send("s", '{"text": "t"}')
    assert "hook-token" not in str(caught.value) and "hook-token" not in channel.describe()
    receiver.server.stop()
    with pytest.raises(ChannelError, match="could not reach") as caught:
        channel.send("s", '{"text": "t"}')
    assert "hook-token" not in str(caught.value)


def test_mailbox_file(tmp_path):
    path = tmp_path / "alerts.mbox"
    MailboxChannel(str(path)).send("[ratecalc] one", '{"text": "first"}')
    MailboxChannel(str(path)).send("[ratecalc] two", '{"text": "second"}')
    text = path.read_text()
    assert text.count("\nFrom ") + text.startswith("From ") == 2
    assert "first" in text and "second" in text


def test_the_cli_test_command_prints_every_answer(smtp, receiver, certificate, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATECALC_")}
    env.update({"RATECALC_ALERT_EMAIL_TO": "ops@example.com",
                "RATECALC_SMTP_URL_FILE": str(tmp_path / "smtp-url"),
                "RATECALC_ALERT_WEBHOOK_URL": receiver.url,
                "RATECALC_ALERT_MAILBOX_FILE": str(tmp_path / "box.mbox"),
                "SSL_CERT_FILE": certificate[0]})
    (tmp_path / "smtp-url").write_text(smtp.url() + "\n")
    done = subprocess.run([sys.executable, "-m", "ratecalc", "alerts", "test"], env=env,
                          capture_output=True, text=True, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "email: ok" in out and "250 OK queued" in out
    assert "webhook: ok" in out and "HTTP 200 ok" in out
    assert "mailbox: ok" in out
    assert SMTP_PASSWORD not in out and "hook-token" not in out
    wait_until(lambda: len(smtp.box.messages) == 1 and len(receiver.posts) == 1)
    smtp.stop()
    done = subprocess.run([sys.executable, "-m", "ratecalc", "alerts", "test"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "email: FAILED" in done.stdout and SMTP_PASSWORD not in done.stdout + done.stderr
