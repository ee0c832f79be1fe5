"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 with STARTTLS and AUTH.

    with SmtpServer(username="alerts", password="s3cret") as smtp:
        channel = EmailChannel(name="mail", host=smtp.host, port=smtp.port,
                               ca_file=smtp.ca_file, username="alerts", password="s3cret",
                               sender="newswatch <alerts@example.org>",
                               recipients=["analyst@example.org"])
        ...send...
        [mail] = smtp.wait_for(1)          # email.message.EmailMessage, policy=default

By default the server offers STARTTLS and requires it (``require_starttls``), offers AUTH
(PLAIN, LOGIN) only after TLS (``auth_require_tls``), accepts exactly one username/password,
and refuses mail from unauthenticated clients (``auth_required``). ``implicit_tls=True``
serves TLS from the first byte instead (an ``security="tls"`` client). The certificate is
issued for ``localhost`` and the IP address 127.0.0.1 by a throw-away CA whose PEM file is
``ca_file``: pass it to the client as an extra trusted CA.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import hmac
import ipaddress
import logging
import shutil
import ssl
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _not_login_data_warning(record: logging.LogRecord) -> bool:
    # aiosmtpd warns about its own deprecated attribute on every AUTH; it is noise here.
    return not str(record.msg).startswith("Session.login_data is deprecated")


logging.getLogger("mail.log").addFilter(_not_login_data_warning)


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted message with its envelope and how the session was secured."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    tls: bool
    authenticated: bool


class SmtpServer:
    """aiosmtpd with TLS and AUTH on a free 127.0.0.1 port (see the module docstring)."""

    def __init__(
        self,
        username: str = "newswatch",
        password: str = "correct horse battery staple",
        *,
        implicit_tls: bool = False,
        auth_required: bool = True,
    ) -> None:
        self.username = username
        self.password = password
        self.implicit_tls = implicit_tls
        self.auth_required = auth_required
        self.host = "127.0.0.1"
        self.port = 0
        self.ca_file = ""
        self.auth_failures = 0
        self._lock = threading.Lock()
        self._received: list[ReceivedMail] = []
        self._tmp: str | None = None
        self._controller: _Controller | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> SmtpServer:
        self._tmp = tempfile.mkdtemp(prefix="newswatch-smtp-")
        self.ca_file, cert_file, key_file = _make_certificates(Path(self._tmp))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        tls: dict[str, Any] = (
            # Implicit TLS: the whole session is encrypted, so AUTH needs no STARTTLS.
            {"ssl_context": context, "auth_require_tls": False}
            if self.implicit_tls
            else {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
        )
        self._controller = _Controller(
            _Collector(self),
            hostname=self.host,
            port=0,
            server_hostname="localhost",  # else aiosmtpd asks DNS for this host's FQDN
            authenticator=self._authenticate,
            auth_required=self.auth_required,
            **tls,
        )
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what tests use -----------------------------------------------------------------

    @property
    def received(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._received)

    @property
    def messages(self) -> list[EmailMessage]:
        """Accepted messages, parsed with ``email.policy.default``, oldest first."""
        return [r.message for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived; return them (AssertionError if not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    # --- aiosmtpd hooks -----------------------------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and hmac.compare_digest(data.login, self.username.encode())
            and hmac.compare_digest(data.password, self.password.encode())
        )
        if not ok:
            with self._lock:
                self.auth_failures += 1
        # handled=False: aiosmtpd then answers 535 itself (True would leave the client hanging).
        return AuthResult(success=ok, handled=False)

    def _store(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._received.append(mail)


class _Collector:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._server._store(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=message,
                raw=raw,
                tls=session.ssl is not None or self._server.implicit_tls,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """Controller that can bind port 0: it learns the real port before its self-test.

    aiosmtpd's ``start()`` connects to ``self.port`` to check the server is up, which fails
    for port 0; reading the bound socket first avoids a pick-a-free-port race.
    """

    def _trigger_server(self) -> None:
        server = cast(asyncio.Server, self.server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]

    def factory(self) -> SMTP:
        # With implicit TLS, "AUTH without STARTTLS" is safe, but aiosmtpd warns on each
        # connection; runs while the client waits for the banner, so no other test is racing.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            smtp: SMTP = super().factory()  # type: ignore[no-untyped-call]
        return smtp


def _make_certificates(directory: Path) -> tuple[str, str, str]:
    """A throw-away CA and a server certificate for localhost / 127.0.0.1 (PEM files)."""
    now = dt.datetime.now(dt.UTC)
    valid = (now - dt.timedelta(minutes=5), now + dt.timedelta(days=1))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newswatch test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_file = directory / "ca.pem"
    cert_file = directory / "server.pem"
    key_file = directory / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(ca_file), str(cert_file), str(key_file)
