"""Shared-drive files and their permissions at school scale: a GAM7-style serial read against ours.

    python -m benchmarks.shared_drives [--size school] [--seed 1] [--shape classic] [--latency-ms 50]

Both read the same generated school from the in-process sandbox with the emulated latency on every
HTTP round trip (a batch is one round trip), each with a new client (token exchanges included):

- **GAM7-style** (``gam print shareddrives`` then ``gam user <organizer> print filelist select
  shareddriveid <id> fields id,permissions``): drives.list as the admin, each drive's files.list as an
  organizer, then one permissions.list per file, one after another.
- **ours**: the audit's own ``drive.shared`` stream (`GoogleActivitySource._drive_shared`): drives and
  their members in one batch, each drive's files as a member (4 drives at a time), permissions only of
  the items that can hold more than the membership (``hasAugmentedPermissions``, or a folder's), in
  Drive batches of 100.

Prints calls (batch parts counted) against the minimum, HTTP round trips and wall time of each, and the
speed-up. The minimum: ceil(drives / 100) drives.list pages + one permissions part per drive + per
drive ceil(files / 1000) files.list pages + one permissions part per item with sharing of its own (or
under a folder with some). Target: ours ≥ 10× faster than GAM7-style.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from connectors.google.activity import GoogleActivitySource
from connectors.google.auth import KeyFile
from connectors.google.scopes import SCOPES
from connectors.google.transport import GoogleClient
from sandbox import generate
from sandbox.activity import activity
from sandbox.config_writer import write_config
from sandbox.server import SandboxServer


def minimum(act) -> dict[str, int]:
    drives = act.shared_drives
    live = {d.id: [f for f in act.drive_files.get(d.id, []) if not f.trashed] for d in drives}

    def shared(f, items) -> bool:
        return bool(f.perms) or (f.parent in items and shared(items[f.parent], items))

    asked = sum(1 for d in drives for f in live[d.id] if shared(f, {x.id: x for x in act.drive_files.get(d.id, [])}))
    lists = sum(max(1, math.ceil(len(v) / 1000)) for v in live.values())
    return {"drives": len(drives), "files": sum(len(v) for v in live.values()), "asked": asked,
            "calls": math.ceil(len(drives) / 100) + len(drives) + lists + asked}


def client_for(config: Path, url: str) -> GoogleClient:
    key = KeyFile(config.parent / "service-account.json")
    return GoogleClient(key, api_base_url=url, quotas={})


def gam_style(client: GoogleClient, admin: str, act) -> dict:
    """One serial call per file, as GAM7 reads shared-drive file permissions."""
    drives_res, files, perms = (client.resource("drive", r) for r in ("drives", "files", "permissions"))
    n = 0
    for page in client.pages("drive", lambda t: drives_res.list(useDomainAdminAccess=True, pageSize=100,
                                                                pageToken=t), subject=admin,
                             scopes=SCOPES["shared_drives"]):
        for d in page.get("drives", []):
            drive = next(x for x in act.shared_drives if x.id == d["id"])
            organizer = next((p.email for p in drive.perms if p.role == "organizer" and p.email in act.roles), None)
            if organizer is None:
                continue
            ids: list[str] = []
            for fp in client.pages("drive", lambda t, did=d["id"]: files.list(
                    corpora="drive", driveId=did, includeItemsFromAllDrives=True, supportsAllDrives=True,
                    q="trashed=false", pageSize=1000, fields="nextPageToken,files(id)", pageToken=t),
                    subject=organizer, scopes=SCOPES["drive"]):
                ids += [f["id"] for f in fp.get("files", [])]
            for fid in ids:
                client.execute("drive", perms.list(fileId=fid, supportsAllDrives=True), subject=organizer,
                               scopes=SCOPES["drive"])
            n += len(ids)
    return {"files": n}


def ours(client: GoogleClient, admin: str, act) -> dict:
    source = GoogleActivitySource(client, admin)
    people = [(e, act.roles[e]) for e in act.staff + act.pupils]
    now = datetime.now(UTC)
    items = [r for b in source._drive_shared({}, now, now, people) if b.partition == "files" for r in b.records]
    return {"items": len(items)}


def timed(fn, client: GoogleClient, *args) -> dict:
    t0 = time.perf_counter()
    out = fn(client, *args)
    return {**out, "wall_s": time.perf_counter() - t0, "calls": client.stats.calls.get("drive", 0),
            "trips": sum(client.stats.round_trips.values())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.shared_drives", description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="school")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shape", default="classic")
    ap.add_argument("--latency-ms", type=float, default=50.0)
    args = ap.parse_args(argv)
    dom = generate(args.size, args.seed, args.shape)
    act = activity(dom)
    server = SandboxServer(dom, latency_ms=args.latency_ms).start()
    server.state.check_responses = False
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = write_config(dom, server.url, Path(tmp) / "school")
            m = minimum(act)
            mine = timed(ours, client_for(config, server.url), dom.admin_email, act)
            gam = timed(gam_style, client_for(config, server.url), dom.admin_email, act)
    finally:
        server.stop()
    print(f"## {args.size} ({args.shape}, seed {args.seed}): {m['drives']} shared drives, {m['files']:,} files, "
          f"{m['asked']} with sharing beyond the members; latency {args.latency_ms:.0f} ms")
    print("| client | Drive calls | vs minimum | HTTP round trips | wall s |")
    print("|---|---|---|---|---|")
    for name, r in (("GAM7-style (serial, one permissions.list per file)", gam), ("ours (batched)", mine)):
        print(f"| {name} | {r['calls']:,} | {r['calls'] / m['calls']:.2f}× | {r['trips']:,} | {r['wall_s']:.1f} |")
    print(f"minimum {m['calls']:,} calls; ours {gam['wall_s'] / mine['wall_s']:.1f}× faster; "
          f"{mine['items']} items with sharing of their own read")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
