"""`regelverk serve`: the decision service (evaluator/service)."""

from __future__ import annotations

import sys

import click

from .common import EXIT_USAGE, POLICIES_OPTION, load_or_exit


@click.command()
@POLICIES_OPTION
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default 8080; 0: any free port).")
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="Worker processes sharing the port (default 1).")
def serve(policies_dir, host, port, workers):
    """Serve the evaluator over HTTP (uvicorn; settings: docs/service.md).

    \b
    POST /evaluate          NDJSON contacts in (Content-Length or chunked), NDJSON decisions out
    POST /evaluate-one      {"contact": {...}, "history": [...]} in, one decision out
    GET  /policies          the policies, their versions and content hashes
    GET  /policy-set        the set's provenance and policies
    GET  /health            "ok"; /health/live and /health/ready as JSON
    POST /admin/reload      reload the policies (Authorization: Bearer <admin_token>)
    GET  /openapi.json      the OpenAPI 3.1 document; /docs a page to try it

    Settings come from the `serve:` section of regelverk.yaml, then REGELVERK_* environment
    variables, then these options. SIGHUP reloads the policies in every worker; SIGTERM
    lets requests in flight finish, then stops.

    \b
    Example:
      regelverk serve --port 8080 --workers 2 &
      curl --data-binary @examples/contacts.ndjson localhost:8080/evaluate
    """
    from ..loading.repository import load_policies
    from ..service.server import serve as run
    from ..service.settings import SettingsError, service_settings
    from ..service.state import Served
    from .common import locate_or_exit

    source = locate_or_exit(policies_dir)
    try:
        settings = service_settings(source.settings.section("serve"), host=host, port=port, workers=workers)
    except SettingsError as exc:
        click.echo(f"regelverk: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    repo = load_or_exit(source=source)
    served = Served.of(repo)

    def load_again():  # a reload reads the same repository's files again
        from ..running.api import Repository

        return Repository(load_policies(source.root, source.settings))

    def announce(port_bound: int) -> None:
        click.echo(f"regelverk serving on http://{settings.host}:{port_bound} ({settings.workers} worker(s), "
                   f"policy set {served.policy_set_hash})", err=True)
    try:
        run(served, load_again, settings, announce)
    except SettingsError as exc:  # (the socket or the log configuration: before any worker starts)
        click.echo(f"regelverk: {exc}", err=True)
        sys.exit(EXIT_USAGE)
