"""The catalogue of bad inputs, docs/errors.md, as the tests read it.

Each table row of docs/errors.md is `| E07 | what you give | `` the message `` |`. The
tests of `tests/errors/test_*.py` provoke each entry and check the message with:

- `expect("E07", message)`: `message` equals the documented one, where `…` in the doc
  matches any text;
- `expect_cli("E30", "train", "pairs.tsv")`: runs `seq2seq.cli.main` in-process and
  checks exit status 2, nothing on stdout, one line on stderr without a traceback,
  and that the line is `seq2seq train: error: <the documented message>`;
- `message_of(ValueError, function)`: calls `function`, checks that it raises that
  type of error, and returns the message to pass to `expect`.

`tests/errors/test_catalogue_complete.py` checks that every entry has such a call
with its ID written out (`expect("E07", ...)`) and every call has an entry.

Example:

>>> expect("E03", "Invalid value for argument `output_length`. Expected a positive int. "
...        "Received: output_length=0")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
ELLIPSIS = "…"
ROW = re.compile(r"^\|\s*(E\d+)\s*\|.*\|\s*`` (.*) ``\s*\|\s*$")
ID_CELL = re.compile(r"^\|\s*(E\d+)\s*\|")

# One home for the in-process runner of the command line: tests/cli/cli_helpers.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_helpers import run  # noqa: E402


def parse(text: str) -> list[tuple[str, str]]:
    """The `(ID, message)` rows of the doc's tables, in order (IDs may repeat here)."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not ID_CELL.match(line):
            continue
        match = ROW.match(line)
        assert match, f"docs/errors.md, line {number}: expected `` message `` in the last cell"
        rows.append((match.group(1), match.group(2).replace("\\|", "|")))
    return rows


@functools.cache
def entries() -> dict[str, str]:
    """`{ID: message}` of docs/errors.md."""
    return dict(parse(DOC.read_text(encoding="utf-8")))


def pattern(message: str) -> re.Pattern:
    """The documented message as a regex: literal text, `…` matching anything."""
    return re.compile(".*?".join(re.escape(part) for part in message.split(ELLIPSIS)), re.DOTALL)


def expect(entry_id: str, actual: str) -> None:
    """Asserts that `actual` is the message docs/errors.md gives for `entry_id`."""
    documented = entries().get(entry_id)
    assert documented is not None, f"{entry_id} is not in docs/errors.md"
    assert pattern(documented).fullmatch(actual), (
        f"{entry_id}: the message differs from docs/errors.md\n"
        f"  documented: {documented}\n  actual:     {actual}"
    )


def expect_cli(entry_id: str, command: str, *args: object) -> None:
    """Runs `seq2seq <command> <args>` in-process and checks its one-line error."""
    code, out, err = run(command, *args)
    assert "Traceback" not in err, err
    assert (code, out) == (2, ""), (code, out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    prefix = f"seq2seq {command}: error: "
    assert lines[0].startswith(prefix), lines[0]
    expect(entry_id, lines[0][len(prefix) :])


def message_of(error_type: type[BaseException], function) -> str:
    """Calls `function()`, asserts it raises `error_type`, returns the error's message."""
    try:
        function()
    except error_type as error:
        return str(error)
    raise AssertionError(f"expected {error_type.__name__}, nothing was raised")
