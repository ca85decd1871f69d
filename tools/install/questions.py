"""How ``tillgw init`` gets each answer: from its flag, else by asking on the terminal, else
(with no terminal, or ``--non-interactive``) it notes the flag that is missing, so that one
error can name every flag a script must add.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable

from gateway.common.i18n import tr

__all__ = ["Asker", "Check", "InitRefused", "yes"]

Check = Callable[[str], str | None]  # an answer's error in words, or None when it is good


class InitRefused(Exception):
    """What stops ``tillgw init``, in words; the exit status goes with it."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def yes(text: str) -> bool:
    return text.strip().lower() in {"y", "yes", "j", "ja"}


class Asker:
    """Answers from flags or from the person at the terminal."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive
        self.missing: list[str] = []  # the flags a non-interactive run lacks, in order asked

    def say(self, text: str) -> None:
        print(text, file=sys.stderr if not self.interactive else sys.stdout, flush=True)

    def text(
        self,
        given: str | None,
        flag: str,
        prompt: str,
        *,
        default: str | None = None,
        check: Check | None = None,
        secret: bool = False,
    ) -> str:
        """The flag's value; else the answer to ``prompt`` (``default`` on Enter); else "" with
        ``flag`` noted as missing (or ``default`` when there is one)."""
        if given is not None:
            problem = check(given) if check is not None else None
            if problem is not None:
                raise ValueError(f"{flag}: {problem}")
            return given
        if not self.interactive:
            if default is None:
                self.missing.append(flag)
                return ""
            return default
        while True:
            shown = f" [{default}]" if default else ""
            question = f"{prompt}{shown}: "
            answer = (getpass.getpass(question) if secret else input(question)).strip() or (default or "")
            problem = (
                tr("an answer is needed") if not answer else (check(answer) if check is not None else None)
            )
            if problem is None:
                return answer
            print(f"  {problem}", flush=True)

    def lines(self, given: list[str] | None, flag: str, prompt: str) -> list[str]:
        """Several lines (an address): the flag repeated, or asked one by one until an empty line."""
        if given:
            return given
        if not self.interactive:
            self.missing.append(flag)
            return []
        print(tr("{prompt} (one line each, an empty line ends):").format(prompt=prompt), flush=True)
        found: list[str] = []
        while True:
            line = input("  > ").strip()
            if not line and found:
                return found
            if line:
                found.append(line)

    def confirm(self, prompt: str, *, default: bool = False) -> bool:
        """A yes or no at the terminal (j/ja or y/yes in either language); ``default`` without one."""
        if not self.interactive:
            return default
        answer = input(f"{prompt} [{tr('Y/n') if default else tr('y/N')}]: ").strip()
        return default if not answer else yes(answer)
