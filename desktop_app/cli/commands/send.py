"""``dermscreen send OUT --to AE@host:port``: C-STORE a run's DICOM objects to a PACS.

Only an output folder DermScreen wrote (``OUT/dicom/manifest.json``). A verification
echo first; then each object it lists with one line saying what the PACS answered.
Objects the PACS confirmed earlier are skipped (the ledger ``OUT/dicom/sent.json``); a
resend carries the same SOP Instance UIDs, so nothing is stored twice. Exit codes:
0 every object is in the PACS; 1 some or all were not (the PACS could not be reached,
refused us, refused or did not answer for an object); 2 bad usage (address, AE title,
options, a folder DermScreen did not write); 4 the ledger cannot be read or written
(not a regular file, a read-only folder: the objects stored are named, a resend is
harmless).
"""

from __future__ import annotations

import argparse

from desktop_app.cli.options import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    finite_float,
)
from desktop_app.cli.terminal import err, say, warn
from desktop_app.core.wording.text_safety import terminal_safe

EXIT_CODES_TEXT = (
    "Exit codes: 0 all objects stored; 1 some or all not stored (PACS unreachable, "
    "refused, no answer); 2 bad usage (address, AE title, options, not a folder "
    "DermScreen wrote); 4 OUT/dicom/sent.json cannot be read or written.")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from desktop_app.reports.dicom.send import (
        DEFAULT_CALLING_AE,
        DEFAULT_RETRIES,
        DEFAULT_TIMEOUT_S,
    )

    parser = sub.add_parser(
        "send", help="send a run's DICOM objects (analyse --dicom) to a PACS",
        description="Send the DICOM objects 'dermscreen analyse --dicom' wrote into OUT/dicom "
        "to a PACS with C-STORE, after a verification echo. Only a folder DermScreen wrote "
        "(OUT/dicom/manifest.json) is sent. Objects the PACS confirmed are recorded in "
        "OUT/dicom/sent.json and not sent again; a resend carries the same SOP Instance UIDs. "
        "Refusals fail at once with the PACS's reason; only timeouts are retried. "
        + EXIT_CODES_TEXT,
    )
    parser.add_argument("out", metavar="OUT", help="the output folder of analyse --dicom")
    parser.add_argument("--to", required=True, metavar="AE@HOST:PORT",
                        help="the PACS: its AE title, host and DICOM port")
    parser.add_argument("--calling-ae", default=DEFAULT_CALLING_AE, metavar="AE",
                        help=f"our AE title, as registered at the PACS (default "
                             f"{DEFAULT_CALLING_AE}; 1 to 16 printable ASCII characters)")
    parser.add_argument("--timeout", type=finite_float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"seconds each network step may take (default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES, metavar="N",
                        help=f"retries after a timeout (default {DEFAULT_RETRIES}); refusals "
                             "are not retried")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from desktop_app.reports.dicom.send import (
        PROBLEM_FOLDER,
        PROBLEM_LEDGER,
        Destination,
        DestinationError,
        ae_title_problem,
        send_folder,
    )

    try:
        dest = Destination.parse(args.to)
    except DestinationError as exc:
        err(terminal_safe(exc))
        return EXIT_USAGE
    problem = ae_title_problem(args.calling_ae, "--calling-ae")
    if problem:
        err(terminal_safe(problem))
        return EXIT_USAGE
    if not 0 < args.timeout <= 3600 or not 0 <= args.retries <= 10:
        err("--timeout must be in (0, 3600] seconds and --retries between 0 and 10")
        return EXIT_USAGE
    report = send_folder(args.out, dest, calling_ae=args.calling_ae, timeout=args.timeout,
                         retries=args.retries, say=lambda line: say(terminal_safe(line)))
    if report.problem == PROBLEM_FOLDER:
        err(terminal_safe(report.echo_message))
        return EXIT_USAGE
    if report.problem == PROBLEM_LEDGER and not report.objects:
        err(terminal_safe(report.ledger_message))
        return EXIT_OUTPUT
    if not report.echo_ok:
        err(terminal_safe(report.echo_message))
        return EXIT_FAILED
    sent = sum(o.status == "sent" for o in report.objects)
    skipped = sum(o.status == "already sent" for o in report.objects)
    failed = report.failed
    say(f"{dest}: {sent} sent, {skipped} already there, {len(failed)} failed")
    for item in failed:
        warn(terminal_safe(f"not stored: {item.path.name}: {item.message}"))
    if report.ledger_message:
        err(terminal_safe(report.ledger_message))
    if failed:
        return EXIT_FAILED
    return EXIT_OUTPUT if report.ledger_message else EXIT_OK
