"""`serve`: the web app and webhooks with werkzeug, for small installs and the demo.

Production runs ``gunicorn 'integration.app:create_app()'`` (the Procfile's ``web``) behind
TLS; the scheduler always runs in the separate ``worker`` process, never here.
"""

from __future__ import annotations

import argparse
import logging
import sys

from integration.logs import event

log = logging.getLogger("safechannels.serve")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None,
                   help="port (default 5000, or a free port if 5000 is taken; a given port must be free)")


def run(args) -> int:
    from integration.app import create_app
    from integration.web.listen import listen, wsgi_server
    from integration.wiring import context_from_args

    app = create_app(bind_host=args.host, ctx=context_from_args(args))
    sock, note = listen(args.host, 5000 if args.port is None else args.port, fallback=args.port is None)
    if note:
        print(f"serve: {note}", file=sys.stderr)
    server = wsgi_server(sock, app)
    sock.close()  # the server holds its own copy of the socket
    event(log, "serve.listening", url=f"http://{args.host}:{server.port}",
          dev_login=app.extensions["safechannels"].dev_login)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
