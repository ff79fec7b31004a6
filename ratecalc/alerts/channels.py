"""Where alerts go: e-mail (SMTP), a webhook, a local mailbox file, the log.

Each channel's ``send(subject, body)`` returns what the other end answered
(``250 ...`` from the mail server, ``HTTP 200 ok`` from the webhook) or raises
:class:`ChannelError` with a one-line reason that names no secret: the SMTP
password and the webhook URL (a Slack webhook URL is itself a credential) never
appear in an answer, an error or a log line.

E-mail: ``smtp://`` speaks STARTTLS whenever the server offers it, and refuses
to log in without it; ``smtps://`` is TLS from the first byte. Certificates are
verified against the system's CAs (``SSL_CERT_FILE`` names another bundle).
"""

from __future__ import annotations

import json
import logging
import mailbox
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

import requests

log = logging.getLogger("ratecalc.alerts")
TIMEOUT_SECONDS = 20.0


class ChannelError(Exception):
    """A channel could not deliver; the message is safe to store and print."""


def _text(body: str) -> str:
    try:
        return json.loads(body).get("text") or body
    except (ValueError, AttributeError):
        return body


class EmailChannel:
    name = "email"

    def __init__(self, url: str, to: tuple[str, ...], sender: str | None = None, *,
                 context: ssl.SSLContext | None = None, timeout: float = TIMEOUT_SECONDS):
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else ""
        self.to = tuple(to)
        self.sender = sender or f"ratecalc@{socket.getfqdn() or 'localhost'}"
        self.context = context or ssl.create_default_context()
        self.timeout = timeout

    def describe(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp+STARTTLS"
        return f"email to {', '.join(self.to)} via {scheme} {self.host}:{self.port}"

    def message(self, subject: str, body: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, ", ".join(self.to), subject
        msg["Date"], msg["Message-ID"] = formatdate(localtime=False), make_msgid("ratecalc")
        msg.set_content(_text(body), cte="quoted-printable")  # long lines wrap
        return msg

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=self.context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=self.context)
            smtp.ehlo()
        elif self._user:
            smtp.close()
            raise ChannelError(f"{self.host}:{self.port} offers no STARTTLS; the password is "
                               "never sent in clear (use smtps:// or a server with STARTTLS)")
        return smtp

    def _transact(self, smtp: smtplib.SMTP, subject: str, body: str) -> tuple[int, bytes]:
        if self._user:
            smtp.login(self._user, self._password)
        steps = [("MAIL FROM", lambda: smtp.mail(self.sender), (250,))]
        steps += [(f"RCPT TO {address}", lambda a=address: smtp.rcpt(a), (250, 251))
                  for address in self.to]
        content = self.message(subject, body).as_bytes(policy=SMTP_POLICY)  # CRLF lines
        steps.append(("DATA", lambda: smtp.data(content), (250,)))
        for what, step, good in steps:
            code, answer = step()
            if code not in good:
                raise ChannelError(f"{what} refused: {code} {answer.decode(errors='replace')}")
        return code, answer

    def send(self, subject: str, body: str) -> str:
        try:
            smtp = self._connect()
            try:
                code, answer = self._transact(smtp, subject, body)
            finally:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        except smtplib.SMTPAuthenticationError as exc:
            raise ChannelError(f"{self.host}:{self.port} refused the login "
                               f"({exc.smtp_code}); check RATECALC_SMTP_URL") from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise ChannelError(f"could not send mail via {self.host}:{self.port}: "
                               f"{type(exc).__name__}: {exc}"[:500]) from None
        return f"{code} {answer.decode(errors='replace')}".strip()


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str, *, timeout: float = TIMEOUT_SECONDS, session=None):
        self._url = url
        parts = urlsplit(url)
        self.where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port
                                                              else "")
        self.timeout = timeout
        self.session = session or requests.Session()

    def describe(self) -> str:
        return f"webhook POST to {self.where}/... (the path is kept secret)"

    def send(self, subject: str, body: str) -> str:
        try:
            response = self.session.post(
                self._url, data=body.encode("utf-8"), timeout=self.timeout,
                allow_redirects=False,
                headers={"Content-Type": "application/json", "User-Agent": "ratecalc-alerts"})
        except requests.RequestException as exc:
            # requests' messages repeat the URL; name the host and the failure only.
            raise ChannelError(f"could not reach {self.where}: {type(exc).__name__}") from None
        text = " ".join(response.text[:200].split())
        answer = f"HTTP {response.status_code} {text}".strip()
        if not 200 <= response.status_code < 300:
            raise ChannelError(f"{self.where} answered {answer}")
        return answer


class MailboxChannel:
    """Appends each message to an mbox file (the sandbox's "local mailbox")."""

    name = "mailbox"

    def __init__(self, path: str, sender: str = "ratecalc@localhost"):
        self.path = path
        self.sender = sender

    def describe(self) -> str:
        return f"mailbox file {self.path}"

    def send(self, subject: str, body: str) -> str:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, "ops@localhost", subject
        msg["Date"] = formatdate(localtime=False)
        msg.set_content(_text(body), cte="quoted-printable")  # long lines wrap
        try:
            box = mailbox.mbox(self.path)
            box.lock()
            try:
                box.add(msg)
                box.flush()
            finally:
                box.unlock()
                box.close()
        except (OSError, mailbox.Error) as exc:
            raise ChannelError(f"cannot append to {self.path}: {exc}") from None
        return f"appended to {self.path}"


class LogChannel:
    """The log, when no other channel is configured: an alert is never sent nowhere."""

    name = "log"

    def describe(self) -> str:
        return "the log (logger ratecalc.alerts, level WARNING)"

    def send(self, subject: str, body: str) -> str:
        log.warning("ALERT %s\n%s", subject, _text(body))
        return "written to the log"


def build_channels(settings, *, context: ssl.SSLContext | None = None) -> tuple[dict, list]:
    """(channels by name, configuration warnings) from the settings."""
    channels: dict = {}
    warnings = []
    if settings.alert_email_to and settings.smtp_url:
        channels["email"] = EmailChannel(settings.smtp_url.reveal(), settings.alert_email_to,
                                         settings.alert_email_from, context=context)
    elif settings.alert_email_to:
        warnings.append("RATECALC_ALERT_EMAIL_TO is set but RATECALC_SMTP_URL is not: "
                        "alerts are not mailed")
    elif settings.smtp_url:
        warnings.append("RATECALC_SMTP_URL is set but RATECALC_ALERT_EMAIL_TO is not: "
                        "alerts are not mailed")
    if settings.alert_webhook_url:
        channels["webhook"] = WebhookChannel(settings.alert_webhook_url.reveal())
    if settings.alert_mailbox_file:
        channels["mailbox"] = MailboxChannel(settings.alert_mailbox_file,
                                             settings.alert_email_from or "ratecalc@localhost")
    if "email" not in channels and "webhook" not in channels:
        channels["log"] = LogChannel()
    return channels, warnings
