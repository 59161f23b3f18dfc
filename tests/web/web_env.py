"""Helpers for web and webhook tests: a test "Google" (RSA keys, a certs endpoint and an OAuth token
endpoint on localhost), a config for Northfield, the app on a real werkzeug server, and row factories.

Tokens are real RS256 JWTs signed with a test key; the app verifies them exactly as it verifies
Google's, only with ``[webhooks] google_certs_url`` pointing at the local certs server.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server

from integration import settings as settings_mod
from integration.app import create_app
from integration.wiring import Context

DOMAIN = "northfield.sch.uk"
PUBLIC_URL = "https://safechannels.northfield.sch.uk"
PUSH_SA = "pubsub-push@northfield-safechannels.iam.gserviceaccount.com"
CLIENT_ID = "1234-web.apps.googleusercontent.com"
DSL, ADMIN, VIEWER = f"dsl@{DOMAIN}", f"it.admin@{DOMAIN}", f"governor@{DOMAIN}"


class SigningKey:
    """An RSA key with a kid, published as a JWKS or as Google's {kid: x509 PEM} map."""

    def __init__(self) -> None:
        self.kid = uuid.uuid4().hex[:16]
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.now(UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-google-certs")])
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
                     .sign(self.key, hashes.SHA256()))

    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def jwk(self) -> dict:
        doc = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**doc, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def sign(self, claims: dict) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def claims(**overrides) -> dict:
    now = int(time.time())
    base = {"iss": "https://accounts.google.com", "aud": PUBLIC_URL + "/webhooks/pubsub", "email": PUSH_SA,
            "email_verified": True, "sub": "1122334455", "iat": now, "exp": now + 3600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@dataclass
class FakeGoogle:
    """Serves /certs (PEM map or JWKS) and /token (the OAuth code exchange) on localhost."""

    key: SigningKey = field(default_factory=SigningKey)
    jwks: bool = False
    id_token: str = ""  # what the next /token answers
    cert_fetches: int = 0
    token_posts: list[str] = field(default_factory=list)

    def start(self) -> FakeGoogle:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, doc: dict, headers: dict | None = None) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                outer.cert_fetches += 1
                doc = {"keys": [outer.key.jwk()]} if outer.jwks else {outer.key.kid: outer.key.pem()}
                self._send(200, doc, {"Cache-Control": "public, max-age=3600"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                outer.token_posts.append(self.rfile.read(length).decode())
                self._send(200, {"access_token": "ya29.test", "id_token": outer.id_token, "expires_in": 3600})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_config(tmp_path: Path, database_url: str, google: FakeGoogle, *, dev_login: bool = True,
                 extra: str = "") -> Path:
    path = tmp_path / "safechannels.toml"
    path.write_text(f"""
[school]
name = "Northfield Academy"
domain = "{DOMAIN}"

[privacy]
encryption_key_file = "{tmp_path / 'keys' / 'safechannels.key'}"

[database]
url = "{database_url}"

[web]
secret_key_file = "{tmp_path / 'keys' / 'web.key'}"
oauth_client_id = "{CLIENT_ID}"
oauth_client_secret = "test-secret"
oauth_token_url = "{google.url}/token"
dsl_users = ["{DSL}"]
admin_users = ["{ADMIN}"]
viewer_users = ["{VIEWER}"]
dev_login = {str(dev_login).lower()}

[webhooks]
public_url = "{PUBLIC_URL}"
pubsub_service_account = "{PUSH_SA}"
pubsub_topic = "projects/northfield-safechannels/topics/safechannels"
google_certs_url = "{google.url}/certs"

[acknowledgement]
policy_version = "2025-10"
form_id = "form-ack-2025"
{extra}
""", encoding="utf-8")
    return path


def make_context(config: Path, store, crypto) -> Context:
    """A Context on ``config`` whose store is the test database (already migrated)."""
    ctx = Context(settings_mod.load(config, env={}))
    ctx.__dict__["crypto"] = crypto
    ctx.__dict__["store"] = store
    return ctx


def make_app(ctx: Context, bind_host: str | None = "127.0.0.1"):
    app = create_app(ctx=ctx, bind_host=bind_host)
    app.config["TESTING"] = True
    return app


class LiveServer:
    """The app on a real werkzeug server on a free port (threaded, like `serve`)."""

    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


# ---------------------------------------------------------------- rows


def add_finding(store, **kw) -> int:
    from integration.store.models_audit import Finding

    now = datetime.now(UTC)
    values = {"fingerprint": uuid.uuid4().hex, "rule": "drive.shared_with_pupil_personal", "severity": "high",
              "status": "new", "staff": f"j.smith@{DOMAIN}", "pupil": f"amy.pupil@{DOMAIN}",
              "counterpart": "amy.personal@gmail.com", "counterpart_hash": "h", "confidence": "known",
              "source": "drive.files.list", "policy": ["002 §42"], "occurrences": 1,
              "evidence": {"file_id": "1AbC", "title": "Year 9 revision notes",
                           "link": "https://drive.google.com/file/d/1AbC/view"},
              "first_seen": now - timedelta(days=1), "last_seen": now}
    values.update(kw)
    with store.session() as s:
        f = Finding(**values)
        s.add(f)
        s.flush()
        return f.id


def add_run(store, job: str, status: str = "ok", summary: dict | None = None, error: str = "",
            minutes_ago: int = 5) -> None:
    from integration.store.models_ops import Run

    start = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    with store.session() as s:
        s.add(Run(job=job, status=status, started_at=start, finished_at=start + timedelta(seconds=42),
                  summary=summary or {}, error=error))


def worker_beats(store) -> None:
    """A running worker's heartbeat now (/readyz is not ready until a worker has one)."""
    from integration.scheduler import HOST, beat

    now = datetime.now(UTC)
    beat(store, f"{HOST}:1", now, now)


def job_requests(store) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from integration.store.models_alerts import JobRequest

    with store.session() as s:
        return [(r.kind, r.reason) for r in s.scalars(select(JobRequest).order_by(JobRequest.id))]


def add_person(store, email: str, role: str, name: str, org_unit: str = "/") -> int:
    from integration.store.models_roster import Person, PersonAlias

    with store.session() as s:
        p = Person(email=email, name=name, role=role, org_unit=org_unit, aliases=[],
                   first_seen=datetime.now(UTC) - timedelta(days=400))  # not a new starter
        s.add(p)
        s.flush()
        s.add(PersonAlias(address=email, person_id=p.id))
        return p.id
