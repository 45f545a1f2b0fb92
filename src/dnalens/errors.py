"""User-facing input errors: one message naming the file, the line and the fix.

Parsers raise `InputError`; the CLI prints it on one line and exits 2 without a traceback, and since
every output is written atomically nothing partial is left behind.
"""

from __future__ import annotations

from os import PathLike


class InputError(Exception):
    """A problem with something the user gave us (file, config key, URL), not a bug in dnalens."""

    def __init__(
        self,
        problem: str,
        *,
        path: str | PathLike | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        self.line = line
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        text = f"{where}{self.problem}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text
