"""``python -m sandbox --workers N``: one listening socket served by N forked processes.

The sandbox is one Python process (one GIL): at school or trust scale its own CPU per
request, not the emulated latency, set the benchmarks' wall time. Google answers from a
fleet, so a benchmark of the *client* needs a sandbox that is not the bottleneck. The
parent builds the app (domain, activity with its "now", token secret) and binds the
socket, then forks: every child holds an identical copy and accepts from the shared
socket, and anything a client carries between requests is self-contained (signed access
tokens, page tokens that encode their position), so any process can answer any request.

Read-mostly only: the request log, faults' random sequence, forms, watches, sent mail and
push deliveries live in whichever process handled the request. Linux/macOS (``os.fork``).
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
from types import FrameType

from werkzeug.serving import BaseWSGIServer

from sandbox import discovery
from sandbox.server import SandboxState


class _Stop(Exception):
    """Raised in the parent by SIGTERM/SIGINT to leave the wait loop."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _die_with_parent() -> None:
    """Linux: SIGTERM this child when the parent dies, so a killed parent leaves no orphan serving."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _child(server: BaseWSGIServer, state: SandboxState) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us
    _die_with_parent()
    state.push.start()  # threads do not survive fork: each child runs its own push sender
    server.serve_forever(poll_interval=0.05)


def serve_forked(server: BaseWSGIServer, state: SandboxState, workers: int) -> int:
    """Fork `workers` children serving `server`'s bound socket; return when stopped (0) or one died (1)."""
    server.socket.setblocking(False)  # every child wakes on a connection; the losers' accept() must not block
    discovery.by_id()  # lazy caches built once here, not once per child
    state.domain.user_by_id()
    gc.freeze()  # keep the shared domain out of the collector, so the children's pages stay shared
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    children: list[int] = []
    rc = 0
    try:
        for _ in range(workers):
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    _child(server, state)
                except BaseException:  # noqa: BLE001 - a child must never return into the parent's code
                    code = 1
                finally:
                    os._exit(code)
            children.append(pid)
        server.socket.close()  # the children hold it
        pid, status = os.wait()
        children.remove(pid)
        print(f"sandbox: worker {pid} exited ({status}); stopping", file=sys.stderr)
        rc = 1
    except _Stop:
        print("sandbox: stopping", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    return rc
