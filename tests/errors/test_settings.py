"""docs/errors.md, "Settings and config files": `seq2seq train` with a bad source of data or
a bad config file prints one line and exits with status 2; `load_config` raises the same."""

import pytest
from catalogue import expect, expect_cli, message_of

from seq2seq.config import ConfigError, load_config


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _config(text):
    with open("run.toml", "w", encoding="utf-8") as handle:
        handle.write(text)
    return message_of(ConfigError, lambda: load_config("run.toml"))


def _pairs(count=10):
    with open("pairs.tsv", "w", encoding="utf-8") as handle:
        handle.write("".join(f"a{i}\tb{i}\n" for i in range(count)))


def test_source_of_the_data():
    _pairs()
    expect_cli("E53", "train", "pairs.tsv", "--task", "dates")
    expect_cli("E54", "train")


def test_unknown_key():
    expect("E55", _config("task = 'dates'\nhiden = 3\n"))
    expect_cli("E55", "train", "--config", "run.toml")


def test_wrong_type():
    expect("E56", _config("task = 'dates'\nepochs = 'ten'\n"))
    expect_cli("E56", "train", "--config", "run.toml")


def test_out_of_range():
    expect("E57", _config("task = 'dates'\nhidden = 0\n"))
    expect_cli("E57", "train", "--config", "run.toml")
    expect("E58", _config("task = 'dates'\nvalidation_split = 1.5\n"))
    expect_cli("E58", "train", "--config", "run.toml")


def test_unknown_choice():
    expect("E59", _config("task = 'dates'\ncell = 'rnn'\n"))
    expect_cli("E59", "train", "--config", "run.toml")
    expect("E60", _config("task = 'translate'\n"))
    expect_cli("E60", "train", "--config", "run.toml")


def test_boolean_and_nan():
    expect("E61", _config("task = 'dates'\nskip_header = 'yes'\n"))
    expect_cli("E61", "train", "--config", "run.toml")
    expect("E62", _config("task = 'dates'\nlearning_rate = nan\n"))
    expect_cli("E62", "train", "--config", "run.toml")


def test_not_toml_and_missing():
    expect("E63", _config("task = dates\n"))
    expect_cli("E63", "train", "--config", "run.toml")
    expect("E64", message_of(ConfigError, lambda: load_config("missing.toml")))
    expect_cli("E64", "train", "--config", "missing.toml")


def test_settings_that_do_not_fit_the_data():
    _pairs()
    expect_cli("E65", "train", "pairs.tsv", "--relative")
    with open("run.toml", "w", encoding="utf-8") as handle:
        handle.write("data = 'pairs.tsv'\nvalidation_split = 0\n")
    expect_cli("E66", "train", "--config", "run.toml")


def test_bad_flags_are_one_line_too():
    expect_cli("E95", "train", "--task", "dates", "--hidden", "0")
    expect_cli("E96", "train", "--task", "dates", "--epochs", "ten")
    expect_cli("E97", "train", "--task", "dates", "--cell", "rnn")
    expect_cli("E98", "train", "--hiden", "3", "--task", "dates")
