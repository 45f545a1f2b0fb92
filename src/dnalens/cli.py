"""`dnalens <stage> ...`: one subcommand per workflow stage, usable by hand on a GPU node.

Each stage package owns a `commands.py` with `register(subparsers)`; this file only dispatches, and
imports stage modules lazily so `dnalens prepare` never pays for torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from dnalens import __version__
from dnalens.errors import InputError

# One line per stage package; a new stage is one module with register() plus one line here.
COMMAND_MODULES = (
    "dnalens.genome.commands",
    "dnalens.labels.commands",
    "dnalens.models.commands",
    "dnalens.sample.commands",
    "dnalens.sae.commands",
    "dnalens.sae.standin",
    "dnalens.sae.bench_commands",
    "dnalens.buffer.commands",
    "dnalens.probe.commands",
    "dnalens.report.commands",
    "dnalens.steer.commands",
    "dnalens.explain.commands",
    "dnalens.effects.commands",
    "dnalens.variants.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dnalens", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"dnalens {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="<stage>", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from dnalens import preemption

    preemption.install()  # SIGTERM -> Preempted: atomic writes clean up, one line below, exit 143
    try:
        return int(args.func(args) or 0)
    except preemption.Preempted as stop:
        print(f"dnalens {args.command}: {stop.message}", file=sys.stderr)
        return preemption.EXIT_CODE
    except InputError as err:
        print(f"dnalens {args.command}: error: {err.message}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk outside dnalens.atomic (a library's own file): same one line
        from pathlib import Path

        from dnalens.atomic import disk_full_error, is_disk_full

        if not is_disk_full(err):
            raise
        target = Path(err.filename) if err.filename else Path.cwd() / "results"
        message = disk_full_error(target, None, 0, err, cleaned=False).message
        print(f"dnalens {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
