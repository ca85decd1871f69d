"""``tillgw openapi``: the OpenAPI document of the till's API, as ``GET /v1/openapi.json`` serves it.

Written to standard output, or to a file with ``--output`` (the repository keeps a copy in
docs/openapi.json: ``tillgw openapi --output docs/openapi.json``). It needs no till: the
document is the same for every one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser(
        "openapi",
        help="print the OpenAPI document of the till's HTTP API",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    command.add_argument("--output", type=Path, help="write it to this file instead of standard output")
    command.set_defaults(handler=openapi_command)


def openapi_command(args: argparse.Namespace) -> int:
    from gateway.api.openapi.document import document_text  # loaded when the command runs

    text = document_text()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0
