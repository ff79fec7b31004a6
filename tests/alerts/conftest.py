"""Alert fixtures: a real SMTP server on loopback (aiosmtpd, STARTTLS or implicit TLS,
with a throwaway self-signed certificate and a login), a real HTTP receiver for the
webhook, a fresh store on each engine, and a hub on a clock the test moves.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from flask import Flask, request

from ratecalc.shop.store.engines import open_store
from ratecalc.simulators.server import ServerThread
from tests import support
from tests.shop.conftest import fresh_postgres_schema

SMTP_USER = "alerts-user"
SMTP_PASSWORD = "smtp-pass-5f2d9c1e7a"  # noqa: S105 - distinctive, grepped for


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """(cert path, key path) of a self-signed certificate for localhost / 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture(scope="session")
def client_tls(certificate):
    """A client context that trusts the throwaway certificate (and verifies it)."""
    return ssl.create_default_context(cafile=certificate[0])


@dataclass
class Mailbox:
    messages: list = field(default_factory=list)
    logins: list = field(default_factory=list)
    tls_seen: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
            self.tls_seen.append(session.ssl is not None or server.transport.get_extra_info(
                "ssl_object") is not None)
        return "250 OK queued as test-" + str(len(self.messages))

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
              and auth_data.password == SMTP_PASSWORD.encode())
        with self.lock:
            self.logins.append(ok)
        return AuthResult(success=ok, handled=False)

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(m["Subject"]) for m in self.messages]

    def bodies(self) -> list[str]:  # CRLF on the wire
        with self.lock:
            return [m.get_payload(decode=True).decode() for m in self.messages]


class SmtpServer:
    """aiosmtpd on loopback; ``stop()`` then ``start()`` is an outage on the same port."""

    def __init__(self, certificate, implicit_tls: bool = False):
        self.box = Mailbox()
        self.port = support.free_port()
        self.implicit = implicit_tls
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(*certificate)
        self.controller = None

    def start(self) -> SmtpServer:
        box, context, implicit = self.box, self.context, self.implicit

        class Server(Controller):
            def factory(self):
                return SMTP(self.handler, hostname="localhost", authenticator=box.authenticate,
                            auth_required=True, auth_require_tls=not implicit,
                            require_starttls=not implicit, auth_exclude_mechanism=["LOGIN"],
                            tls_context=None if implicit else context)

        self.controller = Server(box, hostname="127.0.0.1", port=self.port,
                                 ssl_context=context if implicit else None,
                                 server_hostname="localhost")
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def url(self, user: str = SMTP_USER, password: str = SMTP_PASSWORD) -> str:
        scheme = "smtps" if self.implicit else "smtp"
        return f"{scheme}://{user}:{password}@localhost:{self.port}"


@pytest.fixture
def smtp(certificate):
    server = SmtpServer(certificate).start()
    yield server
    server.stop()


@pytest.fixture
def smtps(certificate):
    server = SmtpServer(certificate, implicit_tls=True).start()
    yield server
    server.stop()


class Receiver:
    """A webhook receiver: records each POST's JSON; answers ``status``."""

    def __init__(self):
        self.posts: list[dict] = []
        self.paths: list[str] = []
        self.status = 200
        app = Flask("receiver")

        @app.post("/<path:path>")
        def hook(path):
            self.paths.append(path)
            self.posts.append(json.loads(request.get_data()))
            return ("ok", self.status)

        self.server = ServerThread(app).start()
        self.url = self.server.url + "/services/T000/B000/hook-token-8c1d0e44b7"


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A fresh, migrated shop store on each engine."""
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path}/alerts.sqlite3")
        yield opened
        opened.close()
        return
    with fresh_postgres_schema() as url:
        opened = open_store(url)
        yield opened
        opened.close()


@pytest.fixture
def clock():
    return support.FakeClock(dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC))
