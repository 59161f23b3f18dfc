"""Google's own hostnames in front of a sandbox, for clients that cannot be given another endpoint.

GAM7 (and any client that builds its services from Google's discovery URLs) talks only to
``https://<api>.googleapis.com``. It does honour the standard ``https_proxy`` variable (its
httplib2 tunnels through an HTTP ``CONNECT`` proxy) and a CA bundle (GAM7's ``cacerts_pem`` /
``GAM_CA_FILE``). So this module runs:

* a CA of its own and a certificate for ``*.googleapis.com``, ``googleapis.com`` and
  ``accounts.google.com`` signed by it (`ca_file` is what the client must trust);
* the sandbox's app a second time, over HTTPS with that certificate (the same state: one log,
  one domain);
* a ``CONNECT`` proxy that tunnels every ``host:443`` to that HTTPS listener, byte for byte.

The client is unchanged: it resolves nothing, verifies the certificate against the CA it was
given, sends its real requests with its real Host header, and the sandbox routes them by path
(and serves the discovery documents, `sandbox.server`). Nothing here is used by the service.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from werkzeug.serving import make_server

from sandbox.server import QuietHandler, SandboxServer

NAMES = ("*.googleapis.com", "googleapis.com", "accounts.google.com", "oauth2.googleapis.com")
HEADER_LIMIT = 16384


class GoogleFront:
    """``with GoogleFront(server, tmp_dir) as front: env = front.client_env()``."""

    def __init__(self, server: SandboxServer, directory: str | Path) -> None:
        self.sandbox = server
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca_file, cert_file, key_file = _write_certificates(self.dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert_file), str(key_file))
        context.set_alpn_protocols(["http/1.1"])
        self._https = make_server("127.0.0.1", 0, server.app, threaded=True, request_handler=QuietHandler,
                                  ssl_context=context)
        self._proxy = socket.create_server(("127.0.0.1", 0))
        self.proxy_url = f"http://127.0.0.1:{self._proxy.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()

    def start(self) -> GoogleFront:
        for target in (self._https.serve_forever, self._accept):
            thread = threading.Thread(target=target, daemon=True, name="google-front")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._closing.set()
        self._https.shutdown()
        self._proxy.close()

    def __enter__(self) -> GoogleFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client_env(self) -> dict[str, str]:
        """Environment for a client process: tunnel HTTPS through the proxy, reach the sandbox's own
        plain-HTTP address (its token endpoint) directly."""
        return {"https_proxy": self.proxy_url, "HTTPS_PROXY": self.proxy_url, "no_proxy": "127.0.0.1,localhost",
                "NO_PROXY": "127.0.0.1,localhost", "GAM_CA_FILE": str(self.ca_file)}

    # ------------------------------------------------------------------ the CONNECT proxy

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._proxy.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < HEADER_LIMIT:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(request_line) < 2 or request_line[0].upper() != "CONNECT":
                conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._https.server_port))
            except OSError:
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                rest = head.split(b"\r\n\r\n", 1)[1]
                if rest:
                    upstream.sendall(rest)
                back = threading.Thread(target=_pump, args=(upstream, conn), daemon=True)
                back.start()
                _pump(conn, upstream)
                back.join(timeout=5)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy bytes one way until either side closes (plain TCP: the TLS is end to end)."""
    try:
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (dst, src):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _write_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, leaf certificate, leaf key) files; a new CA per front (nothing is reused)."""
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SafeChannels sandbox CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=7))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sans = [x509.DNSName(n) for n in NAMES] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.googleapis.com")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = directory / "front-ca.pem", directory / "front-cert.pem", directory / "front-key.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file
