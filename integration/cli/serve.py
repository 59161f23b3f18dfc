"""`serve`: the web app and webhooks with werkzeug, for small installs and the demo.

Production runs ``gunicorn 'integration.app:create_app()'`` (the Procfile's ``web``) behind
TLS; the scheduler always runs in the separate ``worker`` process, never here.
"""

from __future__ import annotations

import argparse
import logging

from integration.logs import event

log = logging.getLogger("safechannels.serve")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="port (default 5000)")


def run(args) -> int:
    from werkzeug.serving import make_server

    from integration.app import create_app
    from integration.wiring import context_from_args

    app = create_app(bind_host=args.host, ctx=context_from_args(args))
    server = make_server(args.host, args.port, app, threaded=True)
    event(log, "serve.listening", url=f"http://{args.host}:{server.server_port}",
          dev_login=app.extensions["safechannels"].dev_login)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
