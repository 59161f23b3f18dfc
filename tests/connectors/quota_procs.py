"""One worker process of the shared-quota tests: run as ``python quota_procs.py MODE JSON-ARGS``.

``pacer``: acquire one call at a time from a SharedQuotaPacer until a deadline and print the admission
stamps (Redis's clock). ``client``: a GoogleClient reading Classroom as one user, each call tried once
(so a 429 is seen, not retried away), printing how many calls succeeded and the statuses of the rest.
Every process says ``ready`` once set up, then waits for the start time on stdin, so all really contend.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from connectors.google.auth import KeyFile  # noqa: E402
from connectors.google.scopes import SCOPES  # noqa: E402
from connectors.google.shared_quotas import SharedQuotaPacer  # noqa: E402
from connectors.google.transport import GoogleClient  # noqa: E402
from integration.errors import SourceError  # noqa: E402


def _start() -> float:
    print("ready", flush=True)
    at = float(sys.stdin.readline())
    time.sleep(max(0.0, at - time.time()))
    return at


def pacer(a: dict) -> dict:
    p = SharedQuotaPacer(a["url"], a["namespace"], {"classroom": a["limit"]}, window_s=a["window"])
    p.connect()
    start = _start()
    stamps = []
    while time.time() < start + a["duration"]:
        stamps.append(p.acquire("classroom", a["user"]))
    return {"stamps": stamps}


def client(a: dict) -> dict:
    c = GoogleClient(KeyFile(Path(a["key"])), api_base_url=a["base_url"], max_attempts=1,
                     quotas={"classroom": a["limit"]}, rate_limit_url=a["rate_limit_url"], quota_window_s=a["window"])
    courses = c.resource("classroom", "courses")
    c.check_token(a["subject"], SCOPES["classroom"])  # the token exchange before the clock starts
    _start()
    ok, refused = 0, []
    for _ in range(a["calls"]):
        try:
            c.execute("classroom", courses.list(pageSize=1, fields="courses(id)"), subject=a["subject"],
                      scopes=SCOPES["classroom"])
            ok += 1
        except SourceError as exc:
            refused.append(getattr(exc, "status", 0) or str(exc))
    return {"ok": ok, "refused": refused}


if __name__ == "__main__":
    mode, args = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps({"pacer": pacer, "client": client}[mode](args)), flush=True)
