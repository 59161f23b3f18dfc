"""Listening sockets for `serve` and `demo`, bound here rather than by werkzeug.

Why: werkzeug's ``make_server`` calls ``sys.exit(1)`` when the port is taken, so a caller's
fallback (``except OSError``) never ran and `demo` died while another demo held port 5000.
Binding ourselves turns "port in use" into either a free port (said so) or exit 2 naming it.
"""

from __future__ import annotations

import errno
import socket

from integration.errors import ConfigError


def listen(host: str, port: int, *, fallback: bool = False) -> tuple[socket.socket, str]:
    """A listening socket on ``host:port`` and a note ('' or which port was used instead).

    ``fallback``: if the port is taken, any free port will do (the default port of a dev server);
    otherwise a taken port is a ConfigError (exit 2) naming it.
    """
    try:
        return _bound(host, port), ""
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or not fallback:
            hint = "; another program is using it: stop it or choose another --port" \
                if exc.errno == errno.EADDRINUSE else ""
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None
    sock = _bound(host, 0)
    return sock, f"port {port} is in use; listening on {sock.getsockname()[1]} instead"


def _bound(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug: restart over TIME_WAIT
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def wsgi_server(sock: socket.socket, app):
    """A threaded werkzeug server on an already listening socket (it never binds, so never exits)."""
    from werkzeug.serving import make_server

    host, port = sock.getsockname()[:2]
    return make_server(host, port, app, threaded=True, fd=sock.fileno())
