"""The ``vigil`` command line. Each command group lives in its own module of this package.

Exit codes: 0 success, 1 unexpected failure, 2 invalid input or config, 3 model problem,
4 refused by policy. User-facing errors (:class:`vigil.errors.VigilError`) print one clear message
on stderr, never a traceback; ``--debug`` shows the traceback too.
"""

from __future__ import annotations

import sys

import typer

from vigil import __version__
from vigil.cli import (
    audit_cmd,
    cameras_cmd,
    capacity_cmd,
    cases_cmd,
    cluster_cmd,
    config_cmd,
    db_cmd,
    eval_cmd,
    evidence_cmd,
    hotlists_cmd,
    investigate_cmd,
    models_cmd,
    report_cmd,
    run_cmd,
    sightings_cmd,
    users_cmd,
    watchlists_cmd,
)
from vigil.errors import VigilError
from vigil.logs import redact

app = typer.Typer(
    name="vigil",
    help="Vigil: city-scale video analytics with authorised, audited, human-verified "
    "identification.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(models_cmd.app, name="models")
app.add_typer(db_cmd.app, name="db")
app.add_typer(cameras_cmd.app, name="cameras")
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(report_cmd.app, name="report")
app.add_typer(users_cmd.app, name="users")
app.add_typer(watchlists_cmd.app, name="watchlists")
app.add_typer(hotlists_cmd.app, name="hotlists")
app.add_typer(sightings_cmd.app, name="sightings")
app.add_typer(cluster_cmd.app, name="cluster")
app.add_typer(evidence_cmd.app, name="evidence")
app.add_typer(cases_cmd.app, name="cases")
app.add_typer(investigate_cmd.app, name="investigate")
eval_cmd.register_calibrate(app)
run_cmd.register(app)
capacity_cmd.register(app)


@app.command()
def version() -> None:
    """Print Vigil's version."""
    typer.echo(__version__)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the app and turns VigilError into a clean exit."""
    debug = "--debug" in (argv if argv is not None else sys.argv)
    args = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--debug"]
    try:
        # With standalone_mode off, click returns typer.Exit's code instead of exiting.
        rv = app(args, standalone_mode=False)
        if isinstance(rv, int) and rv != 0:
            sys.exit(rv)
    except VigilError as exc:
        if debug:
            raise
        typer.echo(f"error: {redact(str(exc))}", err=True)  # may quote a camera URL
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        # Usage errors (unknown option, missing argument) are click exceptions; Typer vendors its
        # own copy of click in recent versions, so match the class by name, not by identity.
        if any(k.__name__ == "ClickException" for k in type(exc).__mro__):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(int(getattr(exc, "exit_code", 2)))
        raise
