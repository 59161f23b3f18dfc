"""GAM7, the admins' CLI, unchanged, against a sandbox: its config directory and a runner.

GAM7 cannot be given an API endpoint; it is pointed at the sandbox the way a corporate network
would point it anywhere: ``https_proxy`` to `sandbox.google_front` and ``GAM_CA_FILE`` to the
front's CA (both documented GAM7 settings: ``cacerts_pem`` in gam.cfg / the GAM_CA_FILE
variable; proxies through the standard environment variables). Its admin credentials are an
``oauth2.txt`` holding a refresh token from the sandbox's OAuth client (as ``gam oauth create``
would leave after the consent screen), so every admin call starts with the refresh_token grant;
user-level commands (``gam all users ...``) use ``oauth2service.json``, the sandbox's service
account, with the scopes GAM7 asks for delegated as its setup guide tells an admin to do.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sandbox.google_front import GoogleFront
from sandbox.server import SandboxServer
from sandbox.token import oauth_client, refresh_token, service_account

GAM_TIMEOUT = 600
GAM_ENV = "SAFECHANNELS_GAM7"
REPO = Path(__file__).resolve().parents[2]


def gam_executable() -> str | None:
    """The `gam` console script of gam7 (PyPI), or None when there is none.

    GAM7 pins its own google-api-python-client/google-auth, so CI installs it in a venv of its own
    (`.venv-gam7`, see .ci/run) and names it in SAFECHANNELS_GAM7; when that is set the test runs
    (and fails if the path is wrong) rather than skipping. Else: `.venv-gam7` at the repo root, the
    interpreter's own environment, then PATH."""
    if named := os.environ.get(GAM_ENV):
        return named
    for here in (REPO / ".venv-gam7" / "bin" / "gam", Path(sys.executable).parent / "gam"):
        if here.exists():
            return str(here)
    return shutil.which("gam")


def gam_scopes() -> tuple[list[str], list[str]]:
    """(client scopes for oauth2.txt, service-account scopes to delegate), from GAM7's own tables."""
    glapi = _glapi()

    def flat(entries: list[dict]) -> list[str]:
        out: list[str] = []
        for e in entries:
            scope = e["scope"]
            out += scope if isinstance(scope, list) else [scope]
        return sorted(set(out))

    client = flat(glapi.getClientScopesList(False, False)) + list(glapi.REQUIRED_SCOPES) + ["openid"]
    return sorted(set(client)), flat(glapi.getSvcAcctScopesList(False, False))


def _glapi():
    """GAM7's API table module, loaded on its own from the gam7 environment: importing the `gam`
    package runs the whole CLI's module (and its deprecation warnings) in the test process, and the
    package usually lives in another venv than the tests' (glapi.py imports nothing)."""
    path = _gam_package(gam_executable()) / "gamlib" / "glapi.py"
    loader = importlib.util.spec_from_file_location("gam7_glapi", path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def _gam_package(executable: str | None) -> Path:
    """The `gam` package directory behind a console script: asked of the script's own interpreter
    (its shebang), without importing the package; else the test interpreter's."""
    origin = None
    if executable and (python := _shebang_python(Path(executable))):
        ask = "import importlib.util as u; s = u.find_spec('gam'); print(s.origin if s else '')"
        done = subprocess.run([*python, "-c", ask], capture_output=True, text=True, timeout=60, check=False)
        origin = done.stdout.strip() or None
    if origin is None and (spec := importlib.util.find_spec("gam")) is not None:
        origin = spec.origin
    if not origin:
        raise RuntimeError(f"gam7 is not installed (no `gam` package behind {executable})")
    return Path(origin).parent


def _shebang_python(script: Path) -> list[str] | None:
    try:
        with script.open("rb") as f:
            first = f.readline(4096)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None  # a frozen GAM7 binary: no interpreter to ask
    words = first[2:].decode(errors="replace").split()
    return words[:2] if words and Path(words[0]).name == "env" else words[:1] or None


@dataclass
class Gam:
    server: SandboxServer
    front: GoogleFront
    config_dir: Path
    executable: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.front.client_env(), "GAMCFGDIR": str(self.config_dir), "PYTHONWARNINGS": "ignore"}
        return subprocess.run([self.executable, *args], env=env, capture_output=True, text=True, timeout=GAM_TIMEOUT,
                              check=False)

    def csv(self, *args: str) -> list[dict[str, str]]:
        """Rows of a `print`/`report` command (CSV on stdout); raises with GAM's stderr if it failed."""
        done = self.run(*args)
        if done.returncode != 0:
            raise AssertionError(f"gam {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
        return list(csv.DictReader(io.StringIO(done.stdout)))


def configure(server: SandboxServer, front: GoogleFront, directory: Path, executable: str) -> Gam:
    """Write GAM7's config directory for the sandbox's domain and delegate GAM7's scopes."""
    dom = server.domain
    (directory / "gamcache").mkdir(parents=True, exist_ok=True)
    client_scopes, sa_scopes = gam_scopes()
    for scope in sa_scopes:
        dom.grant_scope(scope)
    client = oauth_client(dom)
    (directory / "client_secrets.json").write_text(json.dumps(client.client_secrets_json(server.token_uri)))
    sa = service_account(dom).key_json(server.token_uri)
    (directory / "oauth2service.json").write_text(json.dumps(sa))
    (directory / "oauth2.txt").write_text(json.dumps({
        "client_id": client.client_id, "client_secret": client.client_secret,
        "refresh_token": refresh_token(dom, dom.admin_email, client_scopes), "token_uri": server.token_uri,
        "scopes": client_scopes, "token": "", "id_token": "", "token_expiry": "1970-01-01T00:00:01Z",
        "decoded_id_token": {"email": dom.admin_email, "hd": dom.domain, "iss": "https://accounts.google.com"}}))
    (directory / "gam.cfg").write_text("\n".join([
        "[DEFAULT]",
        f"config_dir = {directory}",
        f"cache_dir = {directory / 'gamcache'}",
        f"drive_dir = {directory / 'drive'}",
        f"admin_email = {dom.admin_email}",
        f"domain = {dom.domain}",
        "customer_id = my_customer",
        f"cacerts_pem = {front.ca_file}",
        "no_update_check = true",
        "no_browser = true",
        "num_threads = 2",
        "show_gettings = false",
        "",
    ]))
    (directory / "drive").mkdir(exist_ok=True)
    return Gam(server, front, directory, executable)
