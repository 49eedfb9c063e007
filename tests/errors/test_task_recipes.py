"""docs/errors.md, the entries of task recipes and repeated sources: `seq2seq tasks NAME
--config` without a task or with an unknown one (E102-E103), and a file that lists its
sources on several lines with too few of them to split (E104)."""

import pytest
from catalogue import expect, expect_cli, message_of

from seq2seq.commands.datasets import load_dataset
from seq2seq.data.errors import DataFileError


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_tasks_config_needs_a_known_task():
    expect_cli("E102", "tasks", "--config")
    expect_cli("E103", "tasks", "translate", "--config")


def test_too_few_distinct_sources():
    with open("pairs.tsv", "w", encoding="utf-8") as handle:
        handle.write("a\tb\na\tc\nd\te\nd\tf\n")
    expect_cli("E104", "train", "pairs.tsv")
    expect("E104", message_of(DataFileError, lambda: load_dataset("pairs.tsv")))
