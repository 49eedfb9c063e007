"""docs/errors.md, "Data files": each bad file through `seq2seq train DATA` (one line,
exit status 2) and through the library's readers (the same message)."""

import numpy as np
import pytest
from catalogue import expect, expect_cli, message_of

from seq2seq.commands.datasets import load_dataset
from seq2seq.data.errors import DataFileError
from seq2seq.data.readers import read_arrays, read_pairs


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _write(name, data):
    with open(name, "wb") as handle:
        handle.write(data)
    return name


def _pairs_error(name, **kwargs):
    return message_of(DataFileError, lambda: read_pairs(name, **kwargs))


def _arrays_error(name):
    return message_of(DataFileError, lambda: read_arrays(name))


def test_missing_file_and_folder(tmp_path):
    expect_cli("E30", "train", "pairs.tsv")
    expect("E30", _pairs_error("pairs.tsv"))
    (tmp_path / "data.tsv").mkdir()
    expect_cli("E31", "train", "data.tsv")
    expect("E31", _pairs_error("data.tsv"))
    expect("E31", _arrays_error("data.tsv"))


def test_empty_file_and_header_only():
    _write("empty.tsv", b"")
    expect_cli("E32", "train", "empty.tsv")
    expect("E32", _pairs_error(_write("empty.tsv", b"\n  \r\n")))
    _write("pairs.tsv", b"source\ttarget\n\n")
    expect_cli("E33", "train", "pairs.tsv", "--skip-header")
    expect("E33", _pairs_error("pairs.tsv", skip_header=True))


def test_not_utf8():
    _write("pairs.tsv", b"abc\tcba\nab\xe9\tx\n")
    expect_cli("E34", "train", "pairs.tsv")
    expect("E34", _pairs_error("pairs.tsv"))


def test_nul_byte():
    _write("pairs.tsv", b"abc\tcba\nab\x00c\tx\n")
    expect_cli("E35", "train", "pairs.tsv")
    expect("E35", _pairs_error("pairs.tsv"))


def test_missing_target_column():
    _write("pairs.tsv", b"abc\tcba\nabd\n")
    expect_cli("E36", "train", "pairs.tsv")
    expect("E36", _pairs_error("pairs.tsv"))


def test_empty_target():
    _write("pairs.tsv", b"abc\tcba\nabd\t \n")
    expect_cli("E37", "train", "pairs.tsv")
    expect("E37", _pairs_error("pairs.tsv"))


def test_empty_source_in_csv_and_too_few_pairs():
    _write("pairs.csv", b",x\nabc,cba\n")
    expect_cli("E38", "train", "pairs.csv")
    expect("E38", _pairs_error("pairs.csv"))
    _write("pairs.tsv", b"a\tb\nc\td\n")
    expect_cli("E39", "train", "pairs.tsv")
    expect("E39", message_of(DataFileError, lambda: load_dataset("pairs.tsv")))


def _save(x=None, y=None):
    arrays = {"x": np.zeros((10, 3, 1)) if x is None else x}
    if y is not False:
        arrays["y"] = np.zeros((10, 2, 1)) if y is None else y
    np.savez("series.npz", **arrays)


def test_npz_arrays():
    _save(y=False)
    expect_cli("E40", "train", "series.npz")
    expect("E40", _arrays_error("series.npz"))
    x = np.zeros((10, 3, 1))
    x[3, 1, 0] = np.nan
    _save(x=x)
    expect_cli("E41", "train", "series.npz")
    expect("E41", _arrays_error("series.npz"))
    y = np.zeros((10, 2, 1))
    y[7, 0, 0] = np.inf
    _save(y=y)
    expect_cli("E42", "train", "series.npz")
    expect("E42", _arrays_error("series.npz"))
    _save(y=np.zeros((9, 2, 1)))
    expect_cli("E43", "train", "series.npz")
    expect("E43", _arrays_error("series.npz"))
    _save(x=np.zeros((0, 3, 1)), y=np.zeros((0, 2, 1)))
    expect_cli("E44", "train", "series.npz")
    expect("E44", _arrays_error("series.npz"))
    _save(x=np.zeros((10, 3)))
    expect_cli("E45", "train", "series.npz")
    expect("E45", _arrays_error("series.npz"))
    _save(x=np.full((10, 3, 1), "a"))
    expect_cli("E46", "train", "series.npz")
    expect("E46", _arrays_error("series.npz"))


def test_not_an_npz():
    _write("series.npz", b"not an archive\n")
    expect_cli("E47", "train", "series.npz")
    expect("E47", _arrays_error("series.npz"))
    with open("series.npz", "wb") as handle:
        np.save(handle, np.zeros((10, 3, 1)))
    expect_cli("E48", "train", "series.npz")
    expect("E48", _arrays_error("series.npz"))


def test_reader_arguments():
    _write("pairs.tsv", b"a\tb\n")
    expect(
        "E49",
        message_of(ValueError, lambda: read_pairs("pairs.tsv", source_column=1, target_column=1)),
    )
    expect("E50", message_of(ValueError, lambda: read_pairs("pairs.tsv", source_column=-1)))
    expect("E51", message_of(ValueError, lambda: read_pairs("pairs.tsv", delimiter="")))
    message = message_of(ValueError, lambda: load_dataset(data="pairs.tsv", task="dates"))
    expect("E52", message)
