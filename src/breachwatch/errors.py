"""One error hierarchy; the CLI turns each into a clean message and an exit code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class BreachwatchError(Exception):
    """Base of every error a user can cause. ``exit_code`` is what the CLI returns."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(BreachwatchError):
    exit_code = 2


class UsageError(BreachwatchError):
    exit_code = 2


class WorkspaceError(BreachwatchError):
    exit_code = 3


class KeyError_(BreachwatchError):
    """Missing or wrong encryption key (named with a trailing underscore: not the builtin)."""

    exit_code = 4


@dataclass
class Location:
    file: Path | str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        out = str(self.file)
        if self.line is not None:
            out += f":{self.line}"
            if self.column is not None:
                out += f":{self.column}"
        return out


class InputError(BreachwatchError):
    """Input that cannot be read at all (missing file, binary garbage, zip bomb...)."""

    exit_code = 5

    def __init__(self, message: str, where: Location | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)
