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
from desktop_app.core.site.site_profile import (
    DEFAULT_SPECIFICITY,
    MIN_IMAGES,
    RULES,
    WARN_IMAGES,
    SiteProfile,
)
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
    p_imp = psub.add_parser(
        "import", help="import a (signed-off) profile file",
        description="Validate and store a profile file. Its threshold must follow from its own "
        "scores and rule, and the image statistics it accepts as usual at its site from its own "
        "calibration images; otherwise it is refused (exit 2). A stored profile of the same name "
        "for the same model (this site's own calibration or an earlier import) is replaced only "
        "with --replace, and then kept under site_profiles/replaced/.")
    p_imp.add_argument("source", metavar="FILE")
    p_imp.add_argument("--replace", action="store_true",
                       help="replace a stored profile of the same name (a copy is kept)")
    p_rm = psub.add_parser(
        "remove", help="remove a stored profile",
        description="Remove the stored profile NAME. When profiles of that name exist for more "
        "than one model, --model FILE (that model's) or --all-models is needed (exit 2 "
        "otherwise). Exit 1 when there is none, 4 when the store cannot be changed.")
    p_rm.add_argument("name", metavar="NAME")
    rm_which = p_rm.add_mutually_exclusive_group()
    rm_which.add_argument("--model", metavar="FILE", help="only this model's profile of that name")
    rm_which.add_argument("--all-models", action="store_true",
                          help="the profiles of that name for every model")
    prof.set_defaults(handler=run_profiles)


def run_calibrate(args: argparse.Namespace) -> int:
    from desktop_app.core.base.files import FileWriteError
    from desktop_app.core.site.calibration import drift_of, profile_from_results
    from desktop_app.core.site.site_profile import (
        ProfileError,
        accepted_words,
        expectation_words,
        store_profile,
    )

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
        path, kept = store_profile(profile)
    except (FileWriteError, OSError) as exc:
        err(terminal_safe(exc))
        return EXIT_OUTPUT
    for copy, old in kept:
        say(f"replaced {terminal_safe(old.label())}; the old one is kept in {terminal_safe(copy)}")
    site, spec, sens = expectation_words(profile, model.metadata)
    rule = (f"local benign quantile for {nf.percent(profile.target_specificity, 0)} specificity"
            if profile.rule == "quantile" else f"local mean + {profile.alpha:g} sd")
    say(f"{terminal_safe(site)}: threshold {nf.score(profile.threshold)} ({rule}), model "
        f"{terminal_safe(model.display_name)} ({model.sha256[:12]})")
    say(spec)
    say(sens)
    say(f"usual at this site (no per-image alarm with this profile): {accepted_words(profile)}")
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
    from desktop_app.core.site.site_profile import ProfileError

    try:
        return _PROFILE_ACTIONS[args.profiles_command](args)
    except ProfileError as exc:
        err(terminal_safe(exc))
        return EXIT_USAGE
    except FileWriteError as exc:
        err(terminal_safe(exc))
        return EXIT_OUTPUT


def _describe(p: SiteProfile) -> str:
    return f"model {p.model_name} {p.model_version} ({p.model_sha256[:12]})"


def _list(args: argparse.Namespace) -> int:
    from desktop_app.core.site.site_profile import (
        accepted_words,
        list_profiles,
        profiles_dir,
        unreadable_profiles,
    )

    sha = _model_sha(args.model) if args.model else None
    if args.model and sha is None:
        return EXIT_MODEL
    found = list_profiles(model_sha256=sha)
    if not found:
        say(f"no site profiles in {terminal_safe(profiles_dir())}")
    for _, p in found:
        parts = [p.name, f"n {p.n}", p.created_at, f"by {p.created_by or '-'}",
                 f"threshold {nf.score(p.threshold)}", _describe(p),
                 f"usual here: {accepted_words(p)}"]
        if p.signed_off_by:
            parts.append(f"signed off by {p.signed_off_by}")
        if p.imported:
            parts.append("imported")
        say("  ".join(terminal_safe(part) for part in parts))
    for reason in unreadable_profiles():  # kept in the store, never silently dropped
        warn(f"skipped (cannot be used): {terminal_safe(reason)}")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from desktop_app.core.site.site_profile import accepted_words, import_profile_keeping

    p, kept = import_profile_keeping(args.source, replace_existing=args.replace)
    for copy, old in kept:
        say(f"replaced {terminal_safe(old.label())}; the old one is kept in {terminal_safe(copy)}")
    say(terminal_safe(f"imported {p.label()} for {_describe(p)}: threshold "
                      f"{nf.score(p.threshold)} (re-derived from its scores); usual at its site: "
                      f"{accepted_words(p)}"))
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from desktop_app.core.site.site_profile import export_profile, find_profile

    sha = _model_sha(args.model)
    if sha is None:
        return EXIT_MODEL
    p = find_profile(args.name, sha)
    target = export_profile(p, args.target, signed_off_by=args.signed_off_by)
    # To stderr when the profile itself went to stdout.
    (warn if str(target) in ("-", "/dev/stdout") else say)(
        f"exported {terminal_safe(p.label())} to {terminal_safe(target)}")
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    from desktop_app.core.site.site_profile import clean_name, list_profiles, remove_profile

    sha = _model_sha(args.model) if args.model else None
    if args.model and sha is None:
        return EXIT_MODEL
    name = clean_name(args.name, allow_empty=True)
    matches = [p for _, p in list_profiles(model_sha256=sha) if p.name == name]
    models = {p.model_sha256: p for p in matches}
    if len(models) > 1 and not args.all_models:
        err(f"site profiles named {terminal_safe(args.name)!r} exist for {len(models)} models: "
            + "; ".join(terminal_safe(_describe(p)) for p in models.values())
            + ". Say which with --model FILE, or --all-models to remove them all")
        return EXIT_USAGE
    removed = remove_profile(args.name, sha)
    if not removed:
        err(f"no site profile named {terminal_safe(args.name)!r}"
            + (" for this model" if sha else ""))
        return EXIT_FAILED
    say(f"removed {removed} profile{'s' if removed != 1 else ''} named "
        f"{terminal_safe(args.name)!r}, for "
        + "; ".join(terminal_safe(_describe(p)) for p in models.values()))
    return EXIT_OK


_PROFILE_ACTIONS = {"list": _list, "import": _import, "export": _export, "remove": _remove}
