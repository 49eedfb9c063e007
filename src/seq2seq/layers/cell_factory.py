"""Construction of recurrent cells by name."""

from seq2seq.conventions import CELL_NAMES
from seq2seq.layers.gru_cell import GRUCell
from seq2seq.layers.lstm_cell import LSTMCell

# The class of each name of `CELL_NAMES`, in its order.
CELLS = dict(zip(CELL_NAMES, (LSTMCell, GRUCell), strict=True))


def check_cell_name(cell: str) -> str:
    """Returns the lower-cased cell name, or raises a `ValueError` naming the valid ones."""
    name = cell.lower() if isinstance(cell, str) else cell
    if name not in CELLS:
        raise ValueError(
            f"Invalid value for argument `cell`. Expected one of {sorted(CELLS)}. Received: cell={cell!r}"
        )
    return name


def make_cell(cell: str, units: int, name: str | None = None, dtype=None):
    """Builds an `LSTMCell` or `GRUCell` with `units` units (and dtype policy `dtype`)."""
    return CELLS[check_cell_name(cell)](units, name=name, dtype=dtype)
