import numpy as np
import pytest

from seq2seq.data.errors import DataFileError
from seq2seq.data.readers import read_arrays, read_pairs


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_tsv_with_header_bom_crlf_blank_lines_and_extra_columns(tmp_path):
    path = write(
        tmp_path,
        "pairs.tsv",
        b"\xef\xbb\xbfsource\ttarget\r\nGo.\tVa !\tCC-BY\r\n\r\n  Hi. \t Salut ! \r\nt\xc3\xa9\tx\n",
    )
    sources, targets = read_pairs(path, skip_header=True)
    assert sources == ["Go.", "Hi.", "t\u00e9"]
    assert targets == ["Va !", "Salut !", "x"]


def test_csv_quoting_and_columns(tmp_path):
    path = write(tmp_path, "pairs.csv", 'id,en,fr\n1,"Hello, world",Bonjour\n2,"Say ""hi""",Dis\n')
    sources, targets = read_pairs(path, source_column=2, target_column=1, skip_header=True)
    assert sources == ["Bonjour", "Dis"]
    assert targets == ["Hello, world", 'Say "hi"']


def test_explicit_delimiter_and_other_extension(tmp_path):
    assert read_pairs(write(tmp_path, "a.txt", "a\tb\n")) == (["a"], ["b"])
    assert read_pairs(write(tmp_path, "b.txt", "a|b\n"), delimiter="|") == (["a"], ["b"])


def test_missing_column_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.tsv", "a\tb\nc\td\nonly source\n")
    with pytest.raises(DataFileError) as info:
        read_pairs(path)
    message = str(info.value)
    assert message == (
        f"{path}, line 3: missing target column 1 (0-based): expected at least 2 "
        "tab-separated columns, found 1"
    )
    assert "\n" not in message
    assert info.value.line == 3
    assert isinstance(info.value, ValueError)


def test_empty_source_and_target(tmp_path):
    with pytest.raises(DataFileError, match=r"bad\.tsv, line 2: empty target \(column 1\)"):
        read_pairs(write(tmp_path, "bad.tsv", "a\tb\nc\t  \n"))
    with pytest.raises(DataFileError, match=r"bad\.csv, line 1: empty source \(column 0\)"):
        read_pairs(write(tmp_path, "bad.csv", ",x\n"))


def test_line_numbers_count_header_and_blank_lines(tmp_path):
    path = write(tmp_path, "bad.tsv", "src\ttgt\n\na\tb\n\nc\n")
    with pytest.raises(DataFileError, match=r", line 5: missing target column"):
        read_pairs(path, skip_header=True)


def test_not_utf8(tmp_path):
    path = write(tmp_path, "latin.tsv", b"ok\tfine\n" + "caf\u00e9\tcoffee\n".encode("latin-1"))
    with pytest.raises(DataFileError) as info:
        read_pairs(path)
    assert str(info.value) == (
        f"{path}, line 2: not valid UTF-8 (byte 0xe9 at column 4); save the file with UTF-8 encoding"
    )


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataFileError, match=r"nope\.tsv: file not found"):
        read_pairs(tmp_path / "nope.tsv")
    with pytest.raises(DataFileError, match=r"empty\.tsv: the file is empty \(no line with text\)"):
        read_pairs(write(tmp_path, "empty.tsv", "\n  \n"))


def test_argument_errors(tmp_path):
    path = write(tmp_path, "a.tsv", "a\tb\n")
    with pytest.raises(ValueError, match="Received: source_column=1, target_column=1"):
        read_pairs(path, source_column=1, target_column=1)
    with pytest.raises(ValueError, match="Received: source_column=-1"):
        read_pairs(path, source_column=-1)
    with pytest.raises(ValueError, match=r"Received: delimiter=''"):
        read_pairs(path, delimiter="")


def test_read_arrays(tmp_path):
    path = tmp_path / "series.npz"
    x = np.arange(24, dtype=np.float64).reshape(2, 6, 2)
    y = np.ones((2, 3, 2), dtype=np.int64)
    np.savez(path, x=x, y=y)
    loaded_x, loaded_y = read_arrays(path)
    assert loaded_x.dtype == np.float32 and loaded_y.dtype == np.float32
    np.testing.assert_array_equal(loaded_x, x)
    np.testing.assert_array_equal(loaded_y, y)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.zeros((2, 3, 1))}, "missing array 'y' (found arrays: ['x'])"),
        (
            {"x": np.zeros((2, 3)), "y": np.zeros((2, 3, 1))},
            "array 'x' must have rank 3 (samples, time, features), found shape (2, 3)",
        ),
        (
            {"x": np.zeros((2, 3, 1)), "y": np.zeros((3, 3, 1))},
            "arrays 'x' and 'y' must have the same number of samples, found 2 and 3",
        ),
        (
            {"x": np.zeros((2, 3, 1)), "y": np.array([[[0.0], [np.nan]]])},
            "array 'y' has NaN in row 0 (at index (0, 1, 0)); expected finite values",
        ),
    ],
)
def test_read_arrays_errors(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFileError) as info:
        read_arrays(path)
    assert str(info.value) == f"{path}: {message}"


def test_read_arrays_not_npz(tmp_path):
    with pytest.raises(DataFileError, match=r"junk\.npz: not a readable \.npz archive"):
        read_arrays(write(tmp_path, "junk.npz", "not an archive"))
    with pytest.raises(DataFileError, match="file not found"):
        read_arrays(tmp_path / "missing.npz")
