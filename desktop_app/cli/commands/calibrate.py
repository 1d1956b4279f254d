"""``dermscreen calibrate`` and ``dermscreen profiles``: site profiles from a site's benign images.

``calibrate FOLDER`` scores a folder of images the site knows to be benign and
stores a site profile for the model (keyed by its SHA-256) in the private app
folder; ``analyse --profile NAME`` then decides at its point. ``profiles``
lists, exports, imports and removes them.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from desktop_app.cli.engine_run import capped_workers, load_model_or_say, run_engine
from desktop_app.cli.interrupt import StopOnSignal
from desktop_app.cli.options import (
    EXIT_FAILED,
    EXIT_MODEL,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    add_workers_option,
    finite_float,
    specificity_value,
)
from desktop_app.cli.terminal import err, say, warn
from desktop_app.core.model.score_stats import DEFAULT_ALPHA
from desktop_app.core.site.site_profile import DEFAULT_SPECIFICITY, MIN_IMAGES, RULES, WARN_IMAGES
from desktop_app.core.wording import number_format as nf
from desktop_app.core.wording.text_safety import terminal_safe


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "calibrate", help="set a site's operating point from its own benign images",
        description="Score a folder of images this site knows to be benign (follow-up nevi, "
        f"excised benign lesions; at least {MIN_IMAGES}, {WARN_IMAGES} or more recommended) and "
        "store a site profile for the model in the private app folder. The calibrated threshold "
        "is the local benign quantile for the target specificity (--rule quantile) or the seed's "
        "mean + alpha sd of the local benign scores (--rule alpha). Use it with "
        "`dermscreen analyse --profile NAME` or in the window (Model > Site Profile). "
        "Sensitivity there is only ESTIMATED: validate with `dermscreen evaluate`.",
    )
    parser.add_argument("folder", metavar="FOLDER", help="folder of benign images of this site")
    parser.add_argument("--model", metavar="FILE", help="ONNX model (default: bundled model)")
    parser.add_argument("--name", metavar="SITE", help="site name (default: the folder's name)")
    parser.add_argument("--specificity", type=specificity_value, default=DEFAULT_SPECIFICITY,
                        metavar="S", help="target specificity for --rule quantile (default 0.5)")
    parser.add_argument("--rule", choices=RULES, default="quantile",
                        help="quantile (default) or alpha (mean + alpha sd of the local scores)")
    parser.add_argument("--alpha", type=finite_float, default=DEFAULT_ALPHA, metavar="A",
                        help=f"alpha for --rule alpha (default {DEFAULT_ALPHA})")
    parser.add_argument("--recursive", action="store_true", help="also look in sub-folders")
    parser.add_argument("--who", default="", metavar="NAME",
                        help="who calibrated (default: the login name)")
    add_workers_option(parser)
    parser.set_defaults(handler=run_calibrate)

    prof = sub.add_parser("profiles", help="list, export, import or remove site profiles",
                          description="Site profiles stored in the private app folder.")
    psub = prof.add_subparsers(dest="profiles_command", metavar="ACTION", required=True)
    p_list = psub.add_parser("list", help="list the stored profiles")
    p_list.add_argument("--model", metavar="FILE", help="only the profiles of this model")
    p_exp = psub.add_parser("export", help="write a profile to a file for another workstation")
    p_exp.add_argument("name", metavar="NAME")
    p_exp.add_argument("target", metavar="FILE")
    p_exp.add_argument("--model", metavar="FILE", help="the profile's model (default: bundled)")
    p_exp.add_argument("--signed-off-by", default="", metavar="NAME",
                       help="the site lead who signs the profile off")
    p_imp = psub.add_parser("import", help="import a (signed-off) profile file")
    p_imp.add_argument("source", metavar="FILE")
    p_rm = psub.add_parser("remove", help="remove a stored profile")
    p_rm.add_argument("name", metavar="NAME")
    p_rm.add_argument("--model", metavar="FILE", help="only this model's profile of that name")
    prof.set_defaults(handler=run_profiles)


def run_calibrate(args: argparse.Namespace) -> int:
    from desktop_app.core.base.files import FileWriteError
    from desktop_app.core.site.calibration import drift_of, profile_from_results
    from desktop_app.core.site.site_profile import ProfileError, expectation_words, save_profile

    folder = Path(args.folder)
    if not folder.is_dir():
        err(f"not a folder: {terminal_safe(folder)}")
        return EXIT_USAGE
    workers = capped_workers(args.workers)
    with StopOnSignal() as stop:
        model = load_model_or_say(args.model)
        if model is None:
            return EXIT_MODEL
        done = run_engine(model, [str(folder)], recursive=args.recursive,
                          threshold=model.metadata.threshold, workers=workers, stop=stop)
    if done.stopped:
        err(f"stopped by {stop.reason}; no profile stored")
        return stop.exit_code
    name = args.name or folder.resolve().name
    try:
        profile, data = profile_from_results(
            name, done.results, model, rule=args.rule, specificity=args.specificity,
            alpha=args.alpha, created_by=args.who or _login())
    except ProfileError as exc:
        err(f"no profile stored: {terminal_safe(exc)}")
        return EXIT_USAGE
    for problem in data.problems():
        warn(problem)
    for r in data.errors[:20]:
        warn(f"  {terminal_safe(r.path.name)}: {terminal_safe(r.error)}")
    for r in data.duplicates[:20]:
        warn(f"  duplicate: {terminal_safe(r.path.name)}")
    try:
        path = save_profile(profile)
    except (FileWriteError, OSError) as exc:
        err(terminal_safe(exc))
        return EXIT_OUTPUT
    site, spec, sens = expectation_words(profile, model.metadata)
    rule = (f"local benign quantile for {nf.percent(profile.target_specificity, 0)} specificity"
            if profile.rule == "quantile" else f"local mean + {profile.alpha:g} sd")
    say(f"{terminal_safe(site)}: threshold {nf.score(profile.threshold)} ({rule}), model "
        f"{terminal_safe(model.display_name)} ({model.sha256[:12]})")
    say(spec)
    say(sens)
    before = drift_of(done.results, model, None, ranges_known=done.engine.image_ranges is not None)
    if before.alarm:
        say("Before calibration these images were out of range for the model's validation "
            f"point: {before.words()}")
    say(f"stored: {terminal_safe(path)}; use it with: dermscreen analyse --profile "
        f"{terminal_safe(profile.name)!r}")
    return EXIT_OK


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _model_sha(model_arg: str | None) -> str | None:
    from desktop_app.core.base.paths import default_model_path
    from desktop_app.core.imaging.imageio import file_sha256

    path = Path(model_arg) if model_arg else default_model_path()
    try:
        return file_sha256(path)
    except OSError as exc:
        err(f"cannot read model {terminal_safe(path)}: {terminal_safe(exc.strerror or exc)}")
        return None


def run_profiles(args: argparse.Namespace) -> int:
    from desktop_app.core.base.files import FileWriteError
    from desktop_app.core.site.site_profile import (
        ProfileError,
        export_profile,
        find_profile,
        import_profile,
        list_profiles,
        profiles_dir,
        remove_profile,
    )

    action = args.profiles_command
    try:
        if action == "list":
            sha = _model_sha(args.model) if args.model else None
            if args.model and sha is None:
                return EXIT_MODEL
            found = list_profiles(model_sha256=sha)
            if not found:
                say(f"no site profiles in {terminal_safe(profiles_dir())}")
            for _, p in found:
                parts = [p.name, f"n {p.n}", p.created_at, f"by {p.created_by or '-'}",
                         f"threshold {nf.score(p.threshold)}",
                         f"model {p.model_name} {p.model_version} ({p.model_sha256[:12]})"]
                if p.signed_off_by:
                    parts.append(f"signed off by {p.signed_off_by}")
                if p.imported:
                    parts.append("imported")
                say("  ".join(terminal_safe(part) for part in parts))
            return EXIT_OK
        if action == "import":
            p = import_profile(args.source)
            say(terminal_safe(f"imported {p.label()} for model {p.model_name} {p.model_version} "
                              f"({p.model_sha256[:12]})"))
            return EXIT_OK
        sha = _model_sha(args.model) if (action == "export" or args.model) else None
        if sha is None and (action == "export" or args.model):
            return EXIT_MODEL
        if action == "export":
            p = find_profile(args.name, sha or "")
            target = export_profile(p, args.target, signed_off_by=args.signed_off_by)
            say(f"exported {terminal_safe(p.label())} to {terminal_safe(target)}")
            return EXIT_OK
        removed = remove_profile(args.name, sha)
        if not removed:
            err(f"no site profile named {terminal_safe(args.name)!r}")
            return EXIT_FAILED
        say(f"removed {removed} profile{'s' if removed != 1 else ''} named "
            f"{terminal_safe(args.name)!r}")
        return EXIT_OK
    except ProfileError as exc:
        err(terminal_safe(exc))
        return EXIT_USAGE
    except FileWriteError as exc:
        err(terminal_safe(exc))
        return EXIT_OUTPUT
