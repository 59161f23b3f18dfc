"""A Google-like OIDC signer: the ID tokens Pub/Sub push puts in ``Authorization: Bearer``.

Pub/Sub signs its push requests with Google's keys and publishes the certificates at
``https://www.googleapis.com/oauth2/v1/certs`` as ``{kid: PEM X.509 certificate}``. The
sandbox does the same with its own key and a self-signed certificate, served at
`CERTS_PATH`, so a receiver verifies tokens with the unmodified
``google.oauth2.id_token.verify_token(token, request, audience, certs_url=...)`` — the same
code path it uses in production, only the certs URL differs. `IdTokenSigner.sign` takes
overrides so receiver tests can forge every bad token (wrong aud/iss/email, expired, bad kid).
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sandbox.model import Domain
from sandbox.token import new_private_key

CERTS_PATH = "/oauth2/v1/certs"
ISSUER = "https://accounts.google.com"
ID_TOKEN_LIFETIME = 3600
_KEY_SLOT = -7  # `new_private_key` cache slot: one Google-like key per process (keygen is slow-ish)


def push_service_account(domain: Domain) -> str:
    """The service account the sandbox's push subscriptions sign as (what `pubsub_service_account` names)."""
    return f"safechannels-push@safechannels-sandbox-{domain.seed}.iam.gserviceaccount.com"


def subject_id(email: str) -> str:
    """A stable 21-digit numeric id for a service account (Google's ``sub``/``azp`` are numeric)."""
    return str(100_000_000_000_000_000_000 + int(hashlib.sha256(email.encode()).hexdigest()[:15], 16))


class IdTokenSigner:
    """One RSA key with a self-signed certificate; signs RS256 ID tokens with its ``kid``."""

    def __init__(self, private_key: rsa.RSAPrivateKey | None = None) -> None:
        self.private_key = private_key or new_private_key(_KEY_SLOT)
        now = datetime.now(UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sandbox.federated-signon.system.gserviceaccount.com")])
        self.certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self.private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=14))
            .sign(self.private_key, hashes.SHA256())
        )
        self.certificate_pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode()
        self.kid = hashlib.sha1(self.certificate.public_bytes(serialization.Encoding.DER)).hexdigest()

    def certs(self) -> dict[str, str]:
        """The body of ``GET /oauth2/v1/certs``: kid -> PEM certificate, as Google serves it."""
        return {self.kid: self.certificate_pem}

    def sign(self, audience: str, email: str, *, expires_in: int = ID_TOKEN_LIFETIME,
             header: dict[str, Any] | None = None, **overrides: Any) -> str:
        """An ID token like Pub/Sub's; an override set to None removes that claim."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": audience, "azp": subject_id(email), "sub": subject_id(email),
            "email": email, "email_verified": True, "iat": now, "exp": now + expires_in,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        headers = {"kid": self.kid, "typ": "JWT", **(header or {})}
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)
