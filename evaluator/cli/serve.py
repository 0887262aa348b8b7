"""`regelverk serve`: the HTTP API."""

from __future__ import annotations

import click

from .common import POLICIES_OPTION, load_or_exit


@click.command()
@POLICIES_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def serve(policies_dir, host, port):
    """Serve the evaluator over HTTP.

    \b
    POST /evaluate          NDJSON contacts in, NDJSON decisions out (same as `evaluate`)
    POST /evaluate-one      {"contact": {...}, "history": [...]} in, one decision out
    GET  /policies          the policies and their versions
    GET  /health            "ok"

    \b
    Example:
      regelverk serve --port 8080 &
      curl --data-binary @examples/contacts.ndjson localhost:8080/evaluate
    """
    from ..http import make_server

    repo = load_or_exit(policies_dir)
    server = make_server(repo, host, port)
    click.echo(f"regelverk serving on http://{host}:{server.server_port}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
