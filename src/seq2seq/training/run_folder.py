"""The run folder of `seq2seq train`: its files, checkpoints and history, all written atomically.

```
RUN_DIR/
  config.toml        the settings, written when the run starts (`--resume` reads them)
  checkpoints/       step-000000313.npz ...: the last few checkpoints (see `Checkpoint`)
  history.csv        one row per finished epoch, rewritten after each
  model.keras        the trained model (best epoch), written when training ends
  curves.png, metrics.json, attention.png
```

Example:

>>> from seq2seq.training.run_folder import RunFolder
>>> folder = RunFolder("runs/dates")
>>> folder.checkpoint_path(313).name
'step-000000313.npz'
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from seq2seq.atomic import remove_temporary_files, write_text
from seq2seq.training.checkpoint import Checkpoint, CheckpointError

CHECKPOINT_NAME = re.compile(r"^step-(\d{9})\.npz$")
# Written by a run: what `--overwrite` clears before a new run in the same folder.
RUN_FILES = ("config.toml", "history.csv", "model.keras", "curves.png", "metrics.json",
             "attention.png")  # fmt: skip


class RunFolder:
    """Paths and crash-safe writes of one training run's folder.

    Args:
        path: The run folder.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"

    @property
    def config(self) -> Path:
        """The settings of the run (`config.toml`)."""
        return self.path / "config.toml"

    def holds_run(self) -> bool:
        """Whether a run has started in this folder (its config or a checkpoint is there)."""
        return self.config.is_file() or bool(self.checkpoint_paths())

    def finished(self) -> bool:
        """Whether the run wrote its last file (`metrics.json`)."""
        return (self.path / "metrics.json").is_file()

    def checkpoint_path(self, global_step: int) -> Path:
        """Where the checkpoint after `global_step` optimizer steps goes."""
        return self.checkpoints / f"step-{global_step:09d}.npz"

    def checkpoint_paths(self) -> list[Path]:
        """The checkpoints, oldest first."""
        if not self.checkpoints.is_dir():
            return []
        return sorted(p for p in self.checkpoints.iterdir() if CHECKPOINT_NAME.match(p.name))

    def save_checkpoint(self, checkpoint: Checkpoint, keep: int) -> Path:
        """Writes `checkpoint` atomically, then deletes all but the newest `keep`."""
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        path = checkpoint.save(self.checkpoint_path(checkpoint.global_step))
        for old in self.checkpoint_paths()[:-keep]:
            old.unlink(missing_ok=True)
        return path

    def latest_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint that loads; a corrupt newer one is reported and set aside.

        A checkpoint that does not load is renamed to `*.corrupt` (kept for
        inspection, ignored from then on) and the one before it is tried.

        Returns:
            The checkpoint, or `None` when there is none (or none that loads).
        """
        remove_temporary_files(self.checkpoints)
        remove_temporary_files(self.path)
        for path in reversed(self.checkpoint_paths()):
            try:
                return Checkpoint.load(path)
            except CheckpointError as error:
                warnings.warn(f"{error}; using the checkpoint before it", stacklevel=2)
                path.rename(path.with_name(path.name + ".corrupt"))
        return None

    def clear(self) -> None:
        """Removes an earlier run's files and checkpoints (for `--overwrite`)."""
        for path in self.checkpoint_paths():
            path.unlink()
        for name in RUN_FILES:
            (self.path / name).unlink(missing_ok=True)

    def write_history(self, history: Mapping[str, Sequence[float]]) -> Path:
        """Writes `history.csv` (`epoch` from 0, then the metrics in name order) atomically."""
        keys = sorted(history)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["epoch", *keys])
        epochs = len(history[keys[0]]) if keys else 0
        for epoch in range(epochs):
            writer.writerow([epoch, *(history[key][epoch] for key in keys)])
        return write_text(self.path / "history.csv", buffer.getvalue())
