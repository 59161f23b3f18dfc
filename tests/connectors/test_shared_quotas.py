"""Google's quotas shared by every worker process through Redis (issue 13): real processes, a real
Redis (127.0.0.1:6379, or one this test starts and stops), the sandbox enforcing a per-user quota.

Windows are shortened (1-2 s instead of Google's 60 s) so a test sees several of them."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from connectors.google.quotas import QuotaPacer
from connectors.google.shared_quotas import KEY_PREFIX, SharedQuotaPacer, namespace
from connectors.google.transport import GoogleClient
from integration.errors import TransientError, Unreachable

REDIS_URL = os.environ.get("SAFECHANNELS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PROCS = Path(__file__).with_name("quota_procs.py")
ROOT = Path(__file__).resolve().parents[2]


def _redis_or_skip() -> redis.Redis:
    r = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        r.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    return r


@pytest.fixture
def ns():
    """A namespace of its own (two test runs sharing the Redis never mix), removed afterwards."""
    r = _redis_or_skip()
    name = f"{KEY_PREFIX}:test-{uuid.uuid4().hex[:12]}"
    yield name
    for key in r.scan_iter(match=f"{name}:*"):
        r.delete(key)


def _most_in_a_window(stamps: list[float], window: float) -> int:
    stamps, lo, most = sorted(stamps), 0, 0
    for hi, t in enumerate(stamps):
        while stamps[lo] <= t - window:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def _run_procs(mode: str, args: list[dict], timeout: float = 90) -> tuple[float, list[dict]]:
    """Start one process per args, wait until all are ready, start them together; (start, their results)."""
    procs = [subprocess.Popen([sys.executable, str(PROCS), mode, json.dumps(a)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) for a in args]
    for p in procs:
        line = p.stdout.readline()
        assert line.strip() == "ready", p.communicate(timeout=timeout)[1]
    start = time.time() + 0.3
    for p in procs:
        p.stdin.write(f"{start}\n")
        p.stdin.flush()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        assert p.returncode == 0, stderr
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return start, out


def test_processes_acting_as_one_user_share_one_budget(ns):
    """Three processes hammer one user's window for 3.5 windows: no window (on Redis's clock) holds more
    than the limit, and together they still use the whole budget (about limit per window, not a third)."""
    limit, window, duration = 20, 1.0, 3.5
    base = {"url": REDIS_URL, "namespace": ns, "limit": limit, "window": window, "user": "Admin@school.test",
            "duration": duration}
    start, results = _run_procs("pacer", [base, {**base, "user": "admin@SCHOOL.test"}, base])
    stamps = [t for r in results for t in r["stamps"]]  # Redis's clock: this host's, like `start`
    assert _most_in_a_window(stamps, window) <= limit  # measured over every window the calls fell in
    assert all(len(r["stamps"]) > 0 for r in results)  # every process got a share
    in_run = [t for t in stamps if t < start + duration]  # (a last acquire may return after the deadline)
    windows = -(-duration // window)  # 4 windows start within the run: 0, 1, 2, 3 s
    assert (windows - 1) * limit <= len(in_run) <= windows * limit  # the budget is used, and only once


def test_per_project_quotas_are_one_window_for_every_user(ns):
    pacer = SharedQuotaPacer(REDIS_URL, ns, {"chat": 5}, per_project={"chat"}, window_s=1.0)
    pacer.connect()
    stamps = [pacer.acquire("chat", f"admin{i % 3}@school.test") for i in range(10)]
    assert _most_in_a_window(stamps, 1.0) <= 5 and stamps[-1] - stamps[0] >= 1.0
    assert pacer.keys_in_use() == 1


def test_two_deployments_on_one_redis_keep_their_own_windows(ns):
    one = SharedQuotaPacer(REDIS_URL, f"{ns}:project-a", {"classroom": 3}, window_s=5.0)
    two = SharedQuotaPacer(REDIS_URL, f"{ns}:project-b", {"classroom": 3}, window_s=5.0)
    t0 = time.monotonic()
    for _ in range(3):
        one.acquire("classroom", "admin@school.test")
        two.acquire("classroom", "admin@school.test")  # same user, another project: its own budget
    assert time.monotonic() - t0 < 1.0
    assert namespace("p1") != namespace("p1", "http://127.0.0.1:8765") != namespace("p2", "http://127.0.0.1:8765")


def _client_args(g, url: str, limit: int, window: float, calls: int) -> dict:
    return {"key": str(g.key.path), "base_url": g.server.url, "rate_limit_url": url, "limit": limit,
            "window": window, "calls": calls, "subject": g.admin}


def test_the_sandbox_answers_no_429_when_workers_share_one_users_classroom_quota(google, ns):
    """The sandbox enforces 30 Classroom calls per 2 s per user (as Google enforces 1,200 per 60 s). Three
    processes pacing themselves alone (27 each, 90 %) draw 429s; sharing one window in Redis, none."""
    g = google()
    window, enforced, paced, calls = 2.0, 30, 27, 30
    g.server.state.quotas.enforce({"classroom": enforced}, window_s=window)
    keys = redis.Redis.from_url(REDIS_URL)
    # GoogleClient names its windows after the key's project and the sandbox's URL; start from none
    for key in keys.scan_iter(match=namespace(g.key.info["project_id"], g.server.url) + ":*"):
        keys.delete(key)

    _, alone = _run_procs("client", [_client_args(g, "", paced, window, calls)] * 3)
    refused_alone = g.server.state.quotas.refused.get("classroom", 0)
    assert refused_alone > 0 and sum(len(r["refused"]) for r in alone) == refused_alone  # the storm, measured
    assert all(status == 429 for r in alone for status in r["refused"])

    g.server.state.quotas.enforce({"classroom": enforced}, window_s=window)  # counters and windows afresh
    time.sleep(window)
    started, shared = _run_procs("client", [_client_args(g, REDIS_URL, paced, window, calls)] * 3)
    took = time.time() - started
    assert [r["refused"] for r in shared] == [[], [], []]
    assert g.server.state.quotas.refused == {} and g.server.state.quotas.admitted["classroom"] == 3 * calls
    assert took >= (-(-3 * calls // paced) - 1) * window  # 90 calls at 27 per window: three windows' waits
    stamps = [e.time for e in g.server.requests("classroom.courses.list") if e.time >= started - 1]
    assert _most_in_a_window(stamps, window) <= enforced  # as the sandbox saw them arrive
    for key in keys.scan_iter(match=namespace(g.key.info["project_id"], g.server.url) + ":*"):
        keys.delete(key)


def test_the_sandbox_quota_error_is_googles_429_shape(google):
    from googleapiclient.errors import HttpError

    from connectors.google.errors import classify
    from connectors.google.scopes import SCOPES

    g = google()
    g.server.state.quotas.enforce({"classroom": 1, "directory": 1}, window_s=60)
    client = g.client(max_attempts=1, quotas={})
    courses, users = client.resource("classroom", "courses"), client.resource("directory", "users")
    client.execute("classroom", courses.list(pageSize=1), subject=g.admin, scopes=SCOPES["classroom"])
    client.execute("directory", users.list(customer="my_customer", maxResults=1), subject=g.admin,
                   scopes=SCOPES["directory"])
    http = client.authorized_http(g.admin, SCOPES["classroom"])
    with pytest.raises(HttpError) as grpc_style:
        courses.list(pageSize=1).execute(http=http)
    body = json.loads(grpc_style.value.content)["error"]
    assert grpc_style.value.resp.status == 429 and body["status"] == "RESOURCE_EXHAUSTED"
    info = body["details"][0]
    assert info["reason"] == "RATE_LIMIT_EXCEEDED" and info["domain"] == "googleapis.com"
    assert info["metadata"]["service"] == "classroom.googleapis.com" and "per minute per user" in body["message"]
    http = client.authorized_http(g.admin, SCOPES["directory"])
    with pytest.raises(HttpError) as classic:
        users.list(customer="my_customer", maxResults=1).execute(http=http)
    item = json.loads(classic.value.content)["error"]["errors"][0]
    assert item["reason"] == "rateLimitExceeded" and item["domain"] == "usageLimits"
    assert isinstance(classify(429, classic.value.content, classic.value.resp, api="directory"), TransientError)


# --- Redis gone: at start a clear error naming host:port; mid-run the in-process pacer, with a warning


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisProcess:
    """A redis-server of this test's own, so stopping it disturbs nobody else."""

    def __init__(self, port: int | None = None):
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.port = port or _free_port()
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def test_an_unreachable_redis_at_start_is_named_and_exits_3(google):
    g = google()
    port = _free_port()
    with pytest.raises(Unreachable) as err:
        g.client(rate_limit_url=f"redis://127.0.0.1:{port}/0")
    assert err.value.exit_code == 3 and err.value.endpoint == f"127.0.0.1:{port}"
    assert str(err.value).startswith(f"rate limiter: nothing answers at 127.0.0.1:{port} (connection refused)")
    assert "rate_limit_url" in err.value.fix


def test_the_sync_command_says_which_redis_is_down(google, tmp_path):
    from sandbox.config_writer import write_config

    g = google()
    config = write_config(g.domain, g.server.url, tmp_path / "svc")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SAFECHANNELS__QUEUE__RATE_LIMIT_URL": f"redis://127.0.0.1:{port}/0",
           "SAFECHANNELS__DATABASE__URL": f"sqlite:///{tmp_path / 'svc.db'}"}
    done = subprocess.run([sys.executable, "-m", "integration", "sync", "--config", str(config), "--json"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 3, done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and f"nothing answers at 127.0.0.1:{port}" in errors[0], done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_redis_lost_mid_run_falls_back_to_pacing_this_process_then_rejoins(caplog):
    caplog.set_level(logging.INFO, logger="safechannels.google")
    server = RedisProcess()
    limit, window = 10, 1.0
    pacer = SharedQuotaPacer(server.url, f"{KEY_PREFIX}:test-fallback", {"classroom": limit}, window_s=window,
                             reconnect_s=0.5)
    pacer.connect()
    before = []
    for _ in range(limit):
        pacer.acquire("classroom", "admin@school.test")
        before.append(time.monotonic())
    server.kill()
    t0 = time.monotonic()
    during = []
    for _ in range(3 * limit):  # never raises: the audit goes on
        pacer.acquire("classroom", "admin@school.test")
        during.append(time.monotonic())
    assert pacer.lost
    # stamped by this test just after each acquire returns, so a window 2 % short absorbs the stamping delay
    assert _most_in_a_window(before + during, 0.98 * window) <= limit  # still paced, and no burst at the loss
    assert time.monotonic() - t0 >= 3 * window * 0.9
    lost = [r for r in caplog.records if r.getMessage() == "google.rate_limiter_lost"]
    assert len(lost) == 1 and lost[0].levelno == logging.WARNING
    assert lost[0].fields["endpoint"] == f"127.0.0.1:{server.port}"

    again = RedisProcess(server.port)  # Redis back on the same port
    try:
        time.sleep(0.6)  # past reconnect_s
        t1 = time.monotonic()
        after = []
        for _ in range(2 * limit):
            pacer.acquire("classroom", "admin@school.test")
            after.append(time.monotonic())
        assert not pacer.lost
        assert [r.getMessage() for r in caplog.records].count("google.rate_limiter_restored") == 1
        keys = redis.Redis(port=again.port)
        assert keys.exists(f"{KEY_PREFIX}:test-fallback:{{classroom:admin@school.test}}")  # shared again
        # the calls admitted alone were still in the window: no burst on rejoining either
        assert _most_in_a_window(during + after, 0.98 * window) <= limit
        assert time.monotonic() - t1 >= window * 0.9
        assert pacer.limits == {"classroom": limit} and t1 > t0
    finally:
        again.kill()


def test_the_in_process_pacer_returns_when_it_admitted():
    clock = [100.0]
    pacer = QuotaPacer({"classroom": 2}, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s),
                       window_s=5.0)
    assert [pacer.acquire("classroom", "a@x") for _ in range(3)] == [100.0, 100.0, 105.0]


def test_a_client_with_a_shared_limiter_still_reads_every_page(google, ns):
    """The client wired to Redis paces its pages there (real waits) and reads everything."""
    from connectors.google.scopes import SCOPES

    g = google()
    client = GoogleClient(g.key, api_base_url=g.server.url, quotas={"directory": 3}, rate_limit_url=REDIS_URL,
                          quota_window_s=1.0, sleep=g.sleeps.append)
    client.pacer.namespace = ns  # this test's own keys
    users = client.resource("directory", "users")
    t0 = time.monotonic()
    ids = [u["id"] for page in client.pages(
        "directory", lambda t: users.list(customer="my_customer", maxResults=2, fields="users(id),nextPageToken",
                                          pageToken=t), subject=g.admin, scopes=SCOPES["directory"])
        for u in page.get("users", [])]
    assert sorted(ids) == sorted(u.id for u in g.domain.users if not u.deleted)
    pages = client.stats.calls["directory"]
    assert pages > 3 and time.monotonic() - t0 >= (-(-pages // 3) - 1) * 1.0 * 0.95


def _doctor(config: Path, tmp_path: Path, rate_limit_url: str) -> tuple[int, dict[str, dict]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SAFECHANNELS__QUEUE__RATE_LIMIT_URL": rate_limit_url,
           "SAFECHANNELS__DATABASE__URL": f"sqlite:///{tmp_path / 'svc.db'}"}
    done = subprocess.run([sys.executable, "-m", "integration", "doctor", "--config", str(config), "--json"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, {c["name"]: c for c in json.loads(done.stdout)["checks"]}


def test_doctor_checks_the_rate_limiter_when_one_is_configured(google, tmp_path, monkeypatch):
    from connectors.google.doctor import rate_limiter_check
    from integration import settings as settings_mod
    from sandbox.config_writer import write_config

    _redis_or_skip()
    g = google()
    config = write_config(g.domain, g.server.url, tmp_path / "svc")
    port = _free_port()
    code, checks = _doctor(config, tmp_path, f"redis://127.0.0.1:{port}/0")  # the command, as an operator runs it
    failed = checks[f"rate limiter 127.0.0.1:{port}"]
    assert code == 3 and not failed["ok"] and "nothing answers at" in failed["detail"]
    assert "rate_limit_url" in failed["fix"]

    monkeypatch.setenv("SAFECHANNELS__QUEUE__RATE_LIMIT_URL", REDIS_URL)
    ok = rate_limiter_check(settings_mod.load(str(config)), g.key)
    assert ok is not None and ok.ok and ok.name == "rate limiter" and ok.detail.startswith("Redis ")
    assert "shared by every worker" in ok.detail and namespace(g.key.info["project_id"], g.server.url) in ok.detail
    monkeypatch.setenv("SAFECHANNELS__QUEUE__RATE_LIMIT_URL", "")
    assert rate_limiter_check(settings_mod.load(str(config)), g.key) is None  # none: each process paces itself
    monkeypatch.setenv("SAFECHANNELS__QUEUE__BROKER_URL", REDIS_URL)  # a redis:// broker shares them too
    assert rate_limiter_check(settings_mod.load(str(config)), g.key).ok


def test_the_sandbox_quota_option_reads_api_counts_or_googles_published_defaults():
    from sandbox.__main__ import main
    from sandbox.quotas import PUBLISHED_PER_USER, parse_quota

    assert parse_quota("classroom=1200") == {"classroom": 1200}
    assert parse_quota("published") == PUBLISHED_PER_USER == {"classroom": 1200, "directory": 2400, "reports": 2400}
    for bad in ("classroom", "classroom=0", "nosuchapi=5", "classroom=many"):
        with pytest.raises(ValueError, match="expected API=N"):
            parse_quota(bad)
    assert main(["--user-quota", "classroom=lots"]) == 2
