"""Errors raised while reading data files."""

from __future__ import annotations

import os


class DataFileError(ValueError):
    """A data file that cannot be read, reported on one line.

    The message names the file, the 1-based line number where there is one, and
    the problem, so a command-line tool can print it as it is.

    Args:
        path: The file that could not be read.
        problem: What is wrong, as a short phrase without a trailing period.
        line: The 1-based line number of the faulty line, or `None` when the
            problem concerns the whole file.

    Example:

    >>> from seq2seq.data.errors import DataFileError
    >>> str(DataFileError("pairs.tsv", "empty target", line=3))
    'pairs.tsv, line 3: empty target'
    """

    def __init__(self, path: str | os.PathLike, problem: str, line: int | None = None):
        self.path = os.fspath(path)
        self.problem = problem
        self.line = line
        where = self.path if line is None else f"{self.path}, line {line}"
        # Keep the message on one line whatever the problem text holds.
        message = f"{where}: {problem}".replace("\r", " ").replace("\n", " ")
        super().__init__(message)
