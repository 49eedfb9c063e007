"""Readers for user data: text pairs in delimited files and real arrays in `.npz`."""

from __future__ import annotations

import csv
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from seq2seq.data.errors import DataFileError

_DELIMITER_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", " ": "space"}


def _check_column(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a non-negative int (0-based column). "
            f"Received: {name}={value!r}"
        )
    return value


def _check_not_folder(path: Path) -> None:
    if path.is_dir():
        raise DataFileError(path, "is a folder; expected a data file")


def _split_line(text: str, delimiter: str) -> list[str]:
    if delimiter == ",":
        # Commas appear inside text, so comma files follow CSV quoting rules.
        return next(csv.reader([text]), [])
    return text.split(delimiter)


def read_pairs(
    path: str | os.PathLike,
    delimiter: str | None = None,
    source_column: int = 0,
    target_column: int = 1,
    skip_header: bool = False,
) -> tuple[list[str], list[str]]:
    """Reads (source, target) text pairs, one per line, from a delimited file.

    The file must be UTF-8 (a byte-order mark is allowed). Blank lines are
    skipped, fields are stripped of surrounding whitespace, and extra columns
    are ignored. Comma-separated files follow CSV quoting on each line (a quoted
    field cannot span lines); other delimiters split the line as it is.

    Args:
        path: The file to read.
        delimiter: The column separator. `None` picks a tab for `.tsv`, a comma
            for `.csv` and a tab for any other extension.
        source_column: 0-based index of the source column.
        target_column: 0-based index of the target column.
        skip_header: Whether the first non-blank line is a header to skip.

    Returns:
        Two lists of equal length: the sources and the targets.

    Raises:
        DataFileError: The file is missing or a folder, is not UTF-8, holds a
            NUL byte or no pairs, or a line lacks a column or has an empty
            source or target. The message names the file and the 1-based line
            number.

    Example:

    >>> from seq2seq.data.readers import read_pairs
    >>> sources, targets = read_pairs("pairs.tsv")  # doctest: +SKIP
    """
    sources, targets = [], []
    for source, target in iter_pairs(path, delimiter, source_column, target_column, skip_header):
        sources.append(source)
        targets.append(target)
    return sources, targets


def iter_pairs(
    path: str | os.PathLike,
    delimiter: str | None = None,
    source_column: int = 0,
    target_column: int = 1,
    skip_header: bool = False,
) -> Iterator[tuple[str, str]]:
    """Yields the (source, target) pairs of a delimited file, reading one line at a time.

    The file is never held in memory, so this streams files of any size. The
    arguments, the checks and the errors are those of `read_pairs`; an error
    is raised when the reading reaches the line at fault.

    Example:

    >>> from seq2seq.data.readers import iter_pairs
    >>> pairs = sum(1 for _ in iter_pairs("pairs.tsv"))  # doctest: +SKIP
    """
    path = Path(path)
    if delimiter is None:
        delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    if not isinstance(delimiter, str) or not delimiter or delimiter in "\r\n":
        raise ValueError(
            "Invalid value for argument `delimiter`. Expected None or a non-empty string "
            f"without line breaks. Received: delimiter={delimiter!r}"
        )
    _check_column(source_column, "source_column")
    _check_column(target_column, "target_column")
    if source_column == target_column:
        raise ValueError(
            "Invalid value for arguments `source_column` and `target_column`. Expected two "
            f"different columns. Received: source_column={source_column}, "
            f"target_column={target_column}"
        )
    _check_not_folder(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise DataFileError(path, "file not found") from None
    except OSError as error:
        raise DataFileError(path, f"cannot be read ({error.strerror or error})") from None
    with handle:
        yield from _pairs_of_lines(
            path, handle, delimiter, source_column, target_column, skip_header
        )


def _pairs_of_lines(
    path: Path,
    lines: Iterable[bytes],
    delimiter: str,
    source_column: int,
    target_column: int,
    skip_header: bool,
) -> Iterator[tuple[str, str]]:
    delimiter_name = _DELIMITER_NAMES.get(delimiter, repr(delimiter))
    needed = max(source_column, target_column) + 1
    found = False
    header_pending = skip_header
    header_line = None
    number = 0
    try:
        for number, raw in enumerate(lines, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            text = raw.decode("utf-8").rstrip("\r\n")
            if "\0" in text:
                raise DataFileError(
                    path,
                    f"NUL byte (0x00) at column {text.index(chr(0)) + 1}; expected a text file",
                    line=number,
                )
            if not text.strip():
                continue
            if header_pending:
                header_pending = False
                header_line = number
                continue
            try:
                fields = _split_line(text, delimiter)
            except csv.Error as error:
                raise DataFileError(path, f"malformed CSV ({error})", line=number) from None
            if len(fields) < needed:
                missing = "source" if source_column >= len(fields) else "target"
                column = source_column if missing == "source" else target_column
                raise DataFileError(
                    path,
                    f"missing {missing} column {column} (0-based): expected at least {needed} "
                    f"{delimiter_name}-separated columns, found {len(fields)}",
                    line=number,
                )
            source = fields[source_column].strip()
            target = fields[target_column].strip()
            if not source:
                raise DataFileError(path, f"empty source (column {source_column})", line=number)
            if not target:
                raise DataFileError(path, f"empty target (column {target_column})", line=number)
            found = True
            yield source, target
    except UnicodeDecodeError as error:
        raw = error.object
        byte = raw[error.start]
        raise DataFileError(
            path,
            f"not valid UTF-8 (byte 0x{byte:02x} at column {error.start + 1}); "
            "save the file with UTF-8 encoding",
            line=number,
        ) from None
    except OSError as error:
        raise DataFileError(path, f"cannot be read ({error.strerror or error})") from None
    if not found:
        if header_line is not None:
            raise DataFileError(
                path, f"no (source, target) pairs after the header on line {header_line}"
            )
        raise DataFileError(
            path,
            "the file is empty (no line with text); expected one (source, target) pair per line",
        )


def read_arrays(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Reads real-valued sequence pairs from a `.npz` file.

    Args:
        path: A file written by `numpy.savez` with arrays `x` of shape
            `(samples, in_len, features)` and `y` of shape
            `(samples, out_len, features)`.

    Returns:
        `(x, y)` as finite float32 arrays.

    Raises:
        DataFileError: The file is missing, a folder or not an `.npz` archive,
            or an array is missing, not numeric, not rank 3, not finite (the
            message names the row), or the two disagree on the number of
            samples or hold none.

    Example:

    >>> from seq2seq.data.readers import read_arrays
    >>> x, y = read_arrays("series.npz")  # doctest: +SKIP
    """
    path = Path(path)
    _check_not_folder(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataFileError(path, "file not found") from None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataFileError(path, f"not a readable .npz archive ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataFileError(
            path, "expected an .npz archive with arrays 'x' and 'y', found one array"
        )
    arrays = {}
    with archive:
        for key in ("x", "y"):
            if key not in archive.files:
                raise DataFileError(
                    path, f"missing array '{key}' (found arrays: {sorted(archive.files)})"
                )
            try:
                array = archive[key]
            except ValueError as error:
                raise DataFileError(path, f"array '{key}' cannot be loaded ({error})") from None
            if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
                raise DataFileError(
                    path, f"array '{key}' must be numeric, found dtype {array.dtype}"
                )
            if array.ndim != 3:
                raise DataFileError(
                    path,
                    f"array '{key}' must have rank 3 (samples, time, features), "
                    f"found shape {array.shape}",
                )
            array = array.astype(np.float32)
            if not np.isfinite(array).all():
                position = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
                value = array[position]
                shown = "NaN" if np.isnan(value) else repr(float(value))
                raise DataFileError(
                    path,
                    f"array '{key}' has {shown} in row {position[0]} (at index {position}); "
                    "expected finite values",
                )
            arrays[key] = array
    if len(arrays["x"]) != len(arrays["y"]):
        raise DataFileError(
            path,
            f"arrays 'x' and 'y' must have the same number of samples, found "
            f"{len(arrays['x'])} and {len(arrays['y'])}",
        )
    if not len(arrays["x"]):
        raise DataFileError(
            path,
            f"arrays 'x' and 'y' hold no samples (shapes {arrays['x'].shape} and "
            f"{arrays['y'].shape}); expected at least one",
        )
    return arrays["x"], arrays["y"]
