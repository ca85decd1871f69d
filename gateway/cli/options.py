"""What every command that touches the till's data shares: ``--config`` and ``--data-dir``, and
the configuration they make.

Kept apart from the commands so that a command's ``--help`` loads only this and the
configuration's reader, not another command's work.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from gateway.common.i18n import DEFAULT_LANGUAGE, use_language
from gateway.config import Config, ConfigError, load_config

__all__ = ["add_data_arguments", "config_from_args", "config_or_complain", "use_language_of"]


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` and ``--data-dir``: the same for every command that touches the till's data."""
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="the till's TOML configuration (default: the demo)"
    )
    parser.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="where the till keeps its data (default: ./var)"
    )


def config_from_args(args: argparse.Namespace) -> Config:
    """The command's configuration; from here on the command speaks its ``[shop] language``
    (or ``tillgw --language``)."""
    config = load_config(args.config)
    use_language(getattr(args, "language", None) or config.shop.language)
    return config.with_overrides(data_dir=args.data_dir, http=getattr(args, "http", None))


def use_language_of(args: argparse.Namespace) -> None:
    """Speak ``tillgw --language``, else the language of ``--config``, else the default (when
    there is no config, or it cannot be read: the command that reads it says what is wrong)."""
    language = getattr(args, "language", None)
    if language is None:
        language = DEFAULT_LANGUAGE
        if args.config is not None:
            with contextlib.suppress(ConfigError):
                language = load_config(args.config).shop.language
    use_language(language)


def config_or_complain(args: argparse.Namespace) -> Config | None:
    """The command's configuration, or None after saying on stderr what is wrong with it (exit 2)."""
    try:
        return config_from_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
