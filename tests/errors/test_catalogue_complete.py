"""docs/errors.md and tests/errors agree: every entry is provoked by a test that checks its
message with `expect("Exx", ...)` or `expect_cli("Exx", ...)`, and every checked ID has an entry."""

import re
from pathlib import Path

from catalogue import DOC, entries, parse

USE = re.compile(r"""\bexpect(?:_cli)?\(\s*["'](E\d+)["']""")
TESTS = sorted(
    path
    for path in Path(__file__).resolve().parent.glob("test_*.py")
    if path.name != Path(__file__).name
)


def _used_ids() -> set[str]:
    return {match for path in TESTS for match in USE.findall(path.read_text(encoding="utf-8"))}


def test_ids_are_unique_and_numbered():
    ids = [entry_id for entry_id, _ in parse(DOC.read_text(encoding="utf-8"))]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert all(re.fullmatch(r"E\d{2,}", entry_id) for entry_id in ids), ids


def test_at_least_30_entries():
    assert len(entries()) >= 30


def test_every_entry_has_a_test():
    missing = sorted(set(entries()) - _used_ids())
    assert not missing, (
        f"entries of docs/errors.md without an expect(...) in tests/errors: {missing}"
    )


def test_every_tested_id_is_documented():
    unknown = sorted(_used_ids() - set(entries()))
    assert not unknown, f"IDs checked in tests/errors but not in docs/errors.md: {unknown}"


def test_messages_are_one_line_and_non_empty():
    for entry_id, message in entries().items():
        assert message.strip() and "\n" not in message, entry_id
