"""``vigil evidence``: export a case's signed bundle, print the public key, verify a bundle.

``export`` acts for ``--actor`` (an investigator or supervisor account who opened the case or
was shared it, as the API's case scope asks) and writes the audit entry; ``--unredacted`` needs
``--reason``. ``key`` prints the signing key's public half (creating the key on first use,
outside the data directory). ``verify`` needs only the
bundle and the public key - no configuration, no database - and exits 0 when everything checks,
1 naming every failure, 2 on bad input (a missing file, a key that is not Ed25519 PEM).
"""

from __future__ import annotations

from pathlib import Path

import typer

from vigil.errors import InputError, PermissionDeniedError

app = typer.Typer(help="Signed, redacted evidence bundles of cases.", no_args_is_help=True)
CONFIG = typer.Option(None, "--config", "-c", help="vigil.yaml to use (default settings if none).")


@app.command("export")
def export(
    case: str = typer.Option(..., "--case", help="Case id."),
    out: Path = typer.Option(..., "--out", "-o", help="Bundle (zip) to write."),
    actor: str = typer.Option(..., "--actor", help="Username exporting (needs the role)."),
    unredacted: bool = typer.Option(
        False, "--unredacted", help="Do not blur bystanders (needs --reason; audited)."
    ),
    reason: str = typer.Option("", "--reason", help="Why (written to the audit chain)."),
    config_path: Path | None = CONFIG,
) -> None:
    """Write the case's evidence bundle (bystanders redacted unless --unredacted)."""
    from vigil import logs
    from vigil.config import load_config
    from vigil.governance.actors import Actor
    from vigil.governance.audit import AuditLog
    from vigil.storage import Repository
    from vigil.storage.factory import media_store_from_config, open_database_from_config
    from vigil.system.governance import evidence_exporter

    if unredacted and not reason.strip():
        raise InputError("--unredacted needs --reason (why bystanders may be shown)")
    if out.exists():
        raise InputError(f"{out} exists; choose a new file name")
    config = load_config(config_path)
    logs.configure(config.system.log_level, json_lines=config.system.log_json)
    repo = Repository(open_database_from_config(config))
    audit = AuditLog(repo, anchor_path=config.system.data_dir / "audit-anchor.json")
    exporter = evidence_exporter(config, repo, media_store_from_config(config), audit)
    who = Actor.from_user(repo.get_user(username=actor))
    case_row = repo.get_case(case)
    if who.id != case_row.opened_by and who.id not in repo.case_sharers(case):
        raise PermissionDeniedError(f"case {case} is not {actor}'s nor shared with them")
    result = exporter.export(who, case, out, redact=not unredacted, reason=reason)
    typer.echo(
        f"wrote {result.path}: {result.files} files, manifest sha256 {result.manifest_sha256}"
    )
    for item in result.not_exported:
        typer.echo(f"warning: clip {item['clip']} not exported: {item['why']}", err=True)


@app.command("key")
def key(config_path: Path | None = CONFIG) -> None:
    """Print the public key that verifies this system's bundles (creates the key on first use)."""
    from vigil.config import load_config
    from vigil.governance.signing import fingerprint, load_or_create_key, public_pem

    config = load_config(config_path)
    ev = config.governance.evidence
    private = load_or_create_key(ev.signing_key_file, config.system.data_dir)
    typer.echo(public_pem(private), nl=False)
    typer.echo(f"# sha256 {fingerprint(private)}")


@app.command("verify")
def verify(
    bundle: Path = typer.Argument(..., help="The bundle (zip)."),
    public_key: Path = typer.Option(
        ..., "--key", "-k", help="Public key (PEM) as `vigil evidence key` printed it."
    ),
    expect_head: list[str] = typer.Option(
        [], "--expect-head", help="SEQ:HASH of an audit head published elsewhere (repeatable)."
    ),
) -> None:
    """Check the signature, every file's SHA-256 and the audit proofs; name every failure."""
    from vigil.governance.audit import parse_head
    from vigil.governance.evidence_verify import verify_bundle
    from vigil.governance.signing import load_public_key

    if not bundle.is_file():
        raise InputError(f"no bundle {bundle}")
    if not public_key.is_file():
        raise InputError(f"no public key file {public_key}")
    pub = load_public_key(public_key.read_bytes())
    report = verify_bundle(bundle, pub, expect=[parse_head(h) for h in expect_head])
    typer.echo(report.describe())
    if not report.ok:
        raise typer.Exit(1)
