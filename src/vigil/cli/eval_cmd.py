"""``vigil eval verification|identification`` and ``vigil calibrate``: accuracy on real faces.

Every number Vigil states about its face matching comes from these commands, run on real data
with the product's own pipeline. Reports are JSON (stable keys, see docs/evaluation.md), Markdown
and PNG plots written next to ``--out``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vigil.cli import eval_attributes_cmd, eval_objects_cmd, eval_plates_cmd
from vigil.config import load_config
from vigil.config.settings import FacesConfig
from vigil.eval import faces as runner
from vigil.eval import protocols

if TYPE_CHECKING:
    from vigil.perception.faces.cascade import CascadeBand

app = typer.Typer(
    help="Measure accuracy on real data (faces now; crowd, tracking and plates as they land).",
    no_args_is_help=True,
)
console = Console(stderr=True)
eval_objects_cmd.register(app)  # crowd and tracking (people and vehicles)
eval_plates_cmd.register(app)  # licence plates
eval_attributes_cmd.register(app)  # clothing colours (hand labels)

ConfigOpt = typer.Option(
    None,
    "--config",
    "-c",
    help="vigil.yaml whose face pipeline to use (default: built-in defaults).",
)
ModelOpt = typer.Option(
    None,
    "--model",
    help="Embedder instead of the config's: a name "
    "(fr_feature, mobilefacenet, sface) or a weighted fusion "
    "'fr_feature=2,mobilefacenet=1'.",
)
FlipOpt = typer.Option(
    None, "--flip/--no-flip", help="Mirror-image augmentation (default: config)."
)
AliasOpt = typer.Option(
    None,
    "--aliases",
    help="Alias list (Name_A<TAB>Name_B[<TAB>twin]); "
    "default: the built-in LFW list; 'none' to disable.",
)


def _faces_config(config: Path | None) -> FacesConfig:
    return load_config(config).faces if config else FacesConfig()


def _aliases(value: str | None) -> protocols.Aliases | None:
    if value is None:
        return protocols.default_lfw_aliases()
    if value.lower() == "none":
        return None
    return protocols.read_aliases(value)


def _choice(config: Path | None, model: str | None, flip: bool | None) -> runner.ModelChoice:
    choice = runner.ModelChoice.from_config(_faces_config(config))
    if model:
        choice = runner.ModelChoice.parse(model, choice.flip)
    if flip is not None:
        choice = runner.ModelChoice(choice.members, choice.weights, flip)
    return choice


def _templates(
    lfw_dir: Path, config: Path | None, model: str | None, flip: bool | None
) -> runner.Templates:
    faces_cfg = _faces_config(config)
    choice = _choice(config, model, flip)
    cfg = load_config(config) if config else None
    model_dir = cfg.models.dir if cfg else None
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:

        def progress(label: str, total: int, _: int) -> Callable[[int], None]:
            task = bar.add_task(label, total=total)
            return lambda n: bar.advance(task, n)

        return runner.compute_templates(lfw_dir, faces_cfg, choice, model_dir, progress)


def _summary(out: Path, keys: list[str]) -> None:
    doc = json.loads(out.read_text())
    for dotted in keys:
        node = doc
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        console.print(f"  {dotted}: {json.dumps(node)}")
    console.print(f"report: {out} (+ .md and .png plots beside it)")


@app.command("verification")
def verification(
    lfw_dir: Path = typer.Option(
        ..., "--lfw-dir", help="Folder in LFW layout <Name>/<Name>_NNNN.jpg."
    ),
    pairs: Path = typer.Option(..., "--pairs", help="Pairs file (pairs_shared.tsv format)."),
    out: Path = typer.Option(Path("reports/verification.json"), "--out", help="Report JSON."),
    config: Path | None = ConfigOpt,
    model: str | None = ModelOpt,
    flip: bool | None = FlipOpt,
) -> None:
    """1:1 verification: 10-fold accuracy, TAR at FAR 1e-2/1e-3/1e-4, ROC and DET plots."""
    templates = _templates(lfw_dir, config, model, flip)
    files = runner.run_verification(templates, pairs, out)
    _summary(
        files.json,
        ["model", "verification.accuracy", "verification.tar_at_far", "extra.failures_to_acquire"],
    )


@app.command("identification")
def identification(
    lfw_dir: Path = typer.Option(..., "--lfw-dir", help="Folder in LFW layout."),
    watchlist_size: int = typer.Option(1000, "--watchlist-size", min=1, help="N enrolled."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random watchlist."),
    out: Path = typer.Option(Path("reports/identification.json"), "--out", help="Report JSON."),
    watchlist_names: Path | None = typer.Option(
        None, "--watchlist-names", help="Enrol exactly these identities (one per line)."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Evaluate this threshold instead of the shipped one."
    ),
    cohorts: Path | None = typer.Option(
        None,
        "--cohorts",
        help="identity<TAB>cohort file supplied by the evaluator (never inferred).",
    ),
    images_per_identity: int = typer.Option(
        1, "--images-per-identity", min=1, help="Enrolment images per person."
    ),
    aliases: str | None = AliasOpt,
    config: Path | None = ConfigOpt,
    model: str | None = ModelOpt,
    flip: bool | None = FlipOpt,
    cascade: bool = typer.Option(
        False,
        "--cascade/--no-cascade",
        help="Score as the live face cascade decides (cheap member first, the fusion only "
        "inside the calibrated band) and report the fraction of probes that needed the fusion.",
    ),
    cascade_threshold: float | None = typer.Option(
        None,
        "--cascade-threshold",
        min=-1.0,
        max=1.0,
        help="Fused threshold whose band edge the cascade uses (default: the config's).",
    ),
) -> None:
    """Open-set 1:N (NIST FRTE-like): FNIR at FPIR, rates at the shipped threshold, DET."""
    faces_cfg = _faces_config(config)
    choice = _choice(config, model, flip)
    band = _band_or_exit(faces_cfg, choice) if cascade else None  # before minutes of embedding
    templates = _templates(lfw_dir, config, model, flip)
    if band is not None:
        at = faces_cfg.identification.threshold if cascade_threshold is None else cascade_threshold
        _use_cascade(templates, faces_cfg, choice, config, band, at)
    req = runner.IdentificationRequest(
        watchlist_size=watchlist_size,
        watchlist_names=protocols.read_watchlist_names(watchlist_names)
        if watchlist_names
        else None,
        seed=seed,
        threshold=threshold if threshold is not None else faces_cfg.identification.threshold,
        images_per_identity=images_per_identity,
        aliases=_aliases(aliases),
        cohorts=protocols.read_cohorts(cohorts) if cohorts else None,
    )
    files = runner.run_identification(templates, req, out)
    _summary(
        files.json,
        [
            "model",
            "identification.fnir_at_fpir",
            "identification.default_threshold",
            "identification.fpir_at_default_threshold",
            "identification.fnir_at_default_threshold",
            "identification.mated_searches",
            "identification.nonmated_searches",
        ],
    )


@app.command("far")
def far(
    lfw_dir: Path = typer.Option(
        ..., "--lfw-dir", help="Labelled faces in LFW layout <Name>/<Name>_NNNN.jpg."
    ),
    splits: int = typer.Option(5, "--splits", min=1, max=50, help="Identity-disjoint splits."),
    seed: int = typer.Option(0, "--seed", help="Seed of the first split (then seed+1, ...)."),
    watchlist_size: int = typer.Option(1000, "--watchlist-size", min=1, help="People enrolled."),
    images_per_identity: int = typer.Option(
        1, "--images-per-identity", min=1, max=10, help="Photos enrolled per person."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Threshold to check (default: the configured one)."
    ),
    calibration: Path | None = typer.Option(
        None,
        "--calibration",
        help="Local check: search this data against this calibration file (nothing refitted; "
        "for a force's own labelled data before a deployment is approved).",
    ),
    probes_per_person: int | None = typer.Option(
        None,
        "--probes-per-person",
        min=1,
        help="Search at most this many photos per person (default: all; see docs/evaluation.md).",
    ),
    out: Path = typer.Option(Path("reports/far.json"), "--out", help="Report JSON."),
    aliases: str | None = AliasOpt,
    config: Path | None = ConfigOpt,
) -> None:
    """Predicted vs realised FPIR on people the calibration never saw (bound and interval)."""
    from vigil.eval import far as checks
    from vigil.identification.calibration import FalseAlertModel

    faces_cfg = _faces_config(config)
    t = threshold if threshold is not None else faces_cfg.identification.threshold
    model = FalseAlertModel.from_file(calibration) if calibration else None
    templates = _templates(lfw_dir, config, None, None)
    ids, scorer, al = templates.images.identities, templates.scorer, _aliases(aliases)
    k = images_per_identity
    if model is not None:
        results = [
            checks.check_calibration_file(
                ids,
                scorer,
                model,
                watchlist_size=watchlist_size,
                threshold=t,
                seed=seed,
                images_per_identity=k,
                aliases=al,
                probes_per_person=probes_per_person,
            )
        ]
    else:
        results = [
            checks.validate_split(
                ids,
                scorer,
                seed=seed + i,
                watchlist_size=watchlist_size,
                threshold=t,
                images_per_identity=k,
                aliases=al,
                probes_per_person=probes_per_person,
            )
            for i in range(splits)
        ]
    doc = {
        "model": templates.model,
        "lfw_dir": str(lfw_dir),
        "calibration": str(calibration) if calibration else None,
        **checks.summary_json(results),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2))
    out.with_suffix(".md").write_text(checks.summary_markdown(results))
    checks.plot(results, out.with_suffix(".png"))
    console.print(checks.summary_markdown(results))
    console.print(f"report: {out} (+ .md and .png beside it)")


def _held_out_check(
    templates: runner.Templates,
    outcome: runner.CalibrationOutcome,
    *,
    seed: int,
    aliases: protocols.Aliases | None,
    writing: bool,
    force: bool,
    reason: str,
) -> tuple[runner.CalibrationOutcome, str]:
    """Check the fitted curve on one identity-disjoint split (one search per person); refuse to
    write when the held-out rate beats the displayed bound, unless forced with a reason (which
    then goes into the file and the audit entry). Returns the outcome and the audit reason."""
    import dataclasses

    from vigil.eval import far as checks

    check = checks.validate_split(
        templates.images.identities, templates.scorer, seed=seed,
        watchlist_size=outcome.watchlist_size, threshold=outcome.threshold,
        targets=(outcome.target_fpir,), aliases=aliases, probes_per_person=1,
    )  # fmt: skip
    console.print(checks.summary_markdown([check]))
    if writing:
        checks.refuse_unless_forced(check, force=force, reason=reason)
    forced = reason if force and not check.holds else None
    outcome = dataclasses.replace(outcome, validation=check.to_json(), forced_reason=forced)
    return outcome, f"forced past a failed held-out check: {reason}" if forced else reason


def _band_or_exit(faces_cfg: FacesConfig, choice: runner.ModelChoice) -> CascadeBand:
    """The cascade band of the config's calibration file; exit 2 when there is none to use."""
    from vigil.perception.faces.cascade import CascadeBand

    path = faces_cfg.identification.calibration_file
    band = None if path is None else CascadeBand.from_calibration(path, faces_cfg.cascade.margin)
    if band is None:
        console.print(
            f"[red]error:[/red] the calibration file {path} has no cascade band; "
            "run `vigil calibrate` with a fusion embedder to measure one"
        )
        raise typer.Exit(2)
    if band.cheap_member not in choice.members:
        console.print(f"[red]error:[/red] the band's {band.cheap_member} is not in {choice.name}")
        raise typer.Exit(2)
    return band


def _use_cascade(
    templates: runner.Templates,
    faces_cfg: FacesConfig,
    choice: runner.ModelChoice,
    config: Path | None,
    band: CascadeBand,
    threshold: float,
) -> None:
    """Replace the scorer by the cascade's (the band from :func:`_band_or_exit`)."""
    from vigil.eval import cascade as cascade_eval

    model_dir = load_config(config).models.dir if config else None
    cheap = cascade_eval.cheap_templates(templates, faces_cfg, choice, band.cheap_member, model_dir)
    templates.override = cascade_eval.CascadeScorer(
        templates.embeddings, cheap, templates.faces.found, band, threshold
    )
    templates.model += "+cascade"


def _cascade_band(
    templates: runner.Templates, config: Path | None, threshold: float, seed: int
) -> dict[str, Any] | None:
    """The cascade band of a fusion pipeline with ``faces.cascade`` on (else ``None``)."""
    from vigil.eval import cascade as cascade_eval

    faces_cfg = _faces_config(config)
    choice = _choice(config, None, None)
    if not faces_cfg.cascade.enabled or faces_cfg.cascade.cheap_member not in choice.members:
        return None
    if len(choice.members) < 2:
        return None
    model_dir = load_config(config).models.dir if config else None
    band = cascade_eval.measure(
        templates, faces_cfg, choice, threshold=threshold, seed=seed, model_dir=model_dir
    )
    check = band["held_out"]
    console.print(
        f"cascade band ({band['cheap_member']}): {check['pairs_cut_by_cascade_other_half']} of "
        f"{check['pairs_passing_fusion_other_half']} pairs passing the fusion at "
        f"{threshold:.4f} would be cut on held-out people (edge fitted on the other half "
        f"{check['edge_fitted_on_half']})"
    )
    return band


def register_calibrate(root: typer.Typer) -> None:
    @root.command("calibrate")
    def calibrate(
        lfw_dir: Path = typer.Option(..., "--lfw-dir", help="Folder in LFW layout."),
        target_fpir: float = typer.Option(
            ...,
            "--target-fpir",
            min=1e-6,
            max=0.5,
            help="False-positive identification rate wanted.",
        ),
        watchlist_size: int = typer.Option(..., "--watchlist-size", min=1, help="N enrolled."),
        config: Path | None = typer.Option(
            None, "--config", "-c", help="Config file to update (its faces pipeline is used)."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the random watchlist."),
        aliases: str | None = AliasOpt,
        actor: str = typer.Option(
            "cli", "--actor", help="Who changes the config (written to the audit chain)."
        ),
        reason: str = typer.Option("", "--reason", help="Why (written to the audit chain)."),
        force: bool = typer.Option(
            False,
            "--force",
            help="Write even though the held-out check failed (needs --reason; audited).",
        ),
        write: Path | None = typer.Option(
            None, "--write", help="Also write the calibration JSON (with any cascade band) here."
        ),
    ) -> None:
        """Derive the threshold for a target FPIR and watchlist size; write it into config.

        Before writing, the curve is checked on people it was not fitted on (one identity-
        disjoint split, one search per person): a calibration whose held-out realised FPIR
        exceeds the bound it would display is refused unless ``--force --reason``. With a fusion
        embedder and ``faces.cascade`` on, the cascade band is measured on the same faces and
        stored in the calibration JSON (with a held-out check).
        """
        from vigil.cli.audit_cmd import settings_auditor
        from vigil.config.writer import write_calibration_to_config

        if force and len(reason.strip()) < 3:
            raise typer.BadParameter("--force needs a --reason (written to the audit chain)")

        templates = _templates(lfw_dir, config, None, None)
        outcome = runner.run_calibration(
            templates, target_fpir, watchlist_size, seed=seed, aliases=_aliases(aliases)
        )
        band = _cascade_band(templates, config, outcome.threshold, seed)
        console.print(
            f"threshold {outcome.threshold:.4f} for FPIR {target_fpir:g} at "
            f"N={watchlist_size}: expected TPIR {outcome.expected_tpir:.3f}"
        )
        for h in outcome.holdout:
            test = h.test_fpir.value if h.test_fpir else float("nan")
            console.print(
                f"  held-out check: fitted on half the people, realised FPIR "
                f"{test:.2e} on the other half ({h.realised_over_target:.2f}x target)"
            )
        writing = config is not None or write is not None
        outcome, reason = _held_out_check(
            templates, outcome, seed=seed, aliases=_aliases(aliases), writing=writing,
            force=force, reason=reason,
        )  # fmt: skip
        if write is not None:
            runner.write_calibration(outcome, write, templates.model, band)
            console.print(f"wrote the calibration to {write}")
        if config:
            cal_path = config.parent / "calibration" / f"faces-N{watchlist_size}.json"
            runner.write_calibration(outcome, cal_path, templates.model, band)
            write_calibration_to_config(
                config,
                threshold=outcome.threshold,
                target_fpir=target_fpir,
                watchlist_size=watchlist_size,
                expected_tpir=outcome.expected_tpir,
                calibration_file=cal_path.relative_to(config.parent),
                on_change=settings_auditor(
                    config, actor=actor, reason=reason, command="vigil calibrate"
                ),
            )
            console.print(f"wrote the threshold into {config} and the curve to {cal_path}")
        else:
            console.print("no --config given: nothing written")
