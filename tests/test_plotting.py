import numpy as np
import pytest

from seq2seq.plotting import plot_attention, plot_history

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 1000


def test_plot_history_writes_png(tmp_path):
    history = {
        "loss": [2.0, 1.2, 0.8],
        "val_loss": [2.1, 1.4, 1.0],
        "accuracy": [0.1, 0.4, 0.6],
        "val_accuracy": [0.1, 0.3, 0.5],
        "learning_rate": [0.001, 0.001, 0.0005],
    }
    path = plot_history(history, tmp_path / "plots" / "history.png")
    assert path == tmp_path / "plots" / "history.png"
    assert_png(path)


def test_plot_history_accepts_history_objects(tmp_path):
    class History:
        history = {"val_loss": [1.0, 0.5]}

    assert_png(plot_history(History(), tmp_path / "h.png"))
    with pytest.raises(ValueError, match=r"Received: history=\{\}"):
        plot_history({}, tmp_path / "empty.png")


def test_plot_attention_single_and_several(tmp_path):
    weights = np.full((6, 7), 1 / 7)  # padded beyond the tokens
    assert_png(plot_attention(weights, list("abc"), ["c", "b", "a", "</s>"], tmp_path / "one.png"))
    several = [np.eye(3), np.eye(4)[:, :2]]
    path = plot_attention(
        several, [list("abc"), ["x", "y"]], [list("cba"), list("pqrs")], tmp_path / "two.png"
    )
    assert_png(path)


def test_plot_attention_errors(tmp_path):
    with pytest.raises(ValueError, match=r"Received: weights\[0\] with shape \(2, 3\)"):
        plot_attention(np.ones((2, 3)), list("abc"), list("abc"), tmp_path / "bad.png")
    with pytest.raises(ValueError, match="Received: 2 matrices, 1 source"):
        plot_attention([np.eye(2), np.eye(2)], [list("ab")], [list("ab")] * 2, tmp_path / "b.png")
