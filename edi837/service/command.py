"""``edi837 serve``: the gate service on uvicorn (see docs/service.md)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from .. import logs
from .config import ConfigError, hash_token

log = logs.get("service")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8837, show_default=True)
@click.option("--data", "data", type=click.Path(file_okay=False), default=None,
              help="Data folder: uploads, outputs, control numbers, history and the service's SQLite "
                   "(made when missing). Required.")
@click.option("--config", type=click.Path(dir_okay=False), default=None,
              help="service.toml: submitters, tokens (hashed), limits (default DATA/service.toml, made "
                   "on the first start with one submitter and a token shown once).")
@click.option("--jobs", type=click.IntRange(1, None), default=None,
              help="Gate worker processes (default: the config's, else 1).")
@click.option("--max-body", type=click.IntRange(1, None), default=None, help="Largest upload in bytes.")
@click.option("--queue", type=click.IntRange(1, None), default=None, help="Uploads that may wait.")
@click.option("--redact", is_flag=True, default=None,
              help="Mask names, member ids, dates of birth and addresses in reports and on the page.")
@click.option("--hash-token", "token", default=None, metavar="TOKEN",
              help="Print what service.toml stores for TOKEN (or for a new token when TOKEN is 'new') "
                   "and exit.")
@logs.log_options
def serve_command(host: str, port: int, data: str | None, config: str | None, jobs: int | None,
                  max_body: int | None, queue: int | None, redact: bool | None, token: str | None,
                  log_format: str, log_level: str | None) -> None:
    """Run the gate as an HTTP service: POST 837s, GET their 999/277CA/TA1 and reports."""
    if token is not None:
        if token == "new":
            from .config import new_token

            token = new_token()
            click.echo(f"token: {token}")
        click.echo(hash_token(token))
        return
    if data is None:
        raise click.UsageError("--data DIR is required")
    logs.setup(log_format, log_level or "info", False)
    try:
        import uvicorn

        from .app import create_app
    except ImportError as e:
        click.echo(f"edi837 serve: needs the service extra (pip install 'edi837[service]'): {e}", err=True)
        sys.exit(2)
    try:
        app = create_app(data, config, jobs=jobs, redact=redact or None, max_body=max_body, queue=queue)
    except ConfigError as e:
        click.echo(f"edi837 serve: {e}", err=True)
        sys.exit(2)
    except OSError as e:
        click.echo(f"edi837 serve: {e.filename or data}: {e.strerror or e}", err=True)
        sys.exit(2)
    first: Any = app.state.first_token
    if first:
        click.echo(f"edi837 serve: new data folder: submitter 'local' (any ISA06), token {first}\n"
                   f"  (shown once; only its hash is kept in {app.state.config.path})", err=True)
    logs.log(log, logging.INFO, "listening", host=host, port=port)
    uvicorn.run(app, host=host, port=port, log_level=(log_level or "info"), access_log=False)
