"""`seq2seq tasks`: one line per built-in task, or a task's recipe as a TOML config file.

A recipe holds every setting that the task trains with (the defaults, the
task's `TASK_DEFAULTS` and, for a text task, its source and target levels) but
nothing that names its data, so it trains the same model on a user's file:

```console
$ seq2seq tasks g2p --config > g2p.toml
$ seq2seq train mydict.tsv --config g2p.toml
```
"""

from __future__ import annotations

from typing import Any

from seq2seq import __version__
from seq2seq.commands.errors import CommandError
from seq2seq.config import SIDE_LEVELS, config_text, resolve_settings
from seq2seq.data.tasks import TASKS

# Settings a recipe leaves out: the data source, its size and the run folder belong to
# the task, and `level` is the shorthand that `source_level`/`target_level` replace.
RECIPE_EXCLUDED = ("task", "data", "out", "max_examples", "level")


def task_lines() -> list[str]:
    """Lines of `name  kind  size  description`, aligned in columns."""
    width = max(len(name) for name in TASKS)
    lines = []
    for name, task in TASKS.items():
        if task.kind == "text":
            kind = f"{task.source_level}->{task.target_level}"
        else:
            kind = "real"
        size = "all" if task.default_num_examples is None else f"{task.default_num_examples}"
        lines.append(f"{name:<{width}}  {kind:<10}  {size:>6}  {task.description}")
    return lines


def _check_name(name: str) -> None:
    if name not in TASKS:
        raise CommandError(f"argument NAME: expected one of {', '.join(TASKS)}; received {name!r}")


def recipe_settings(name: str) -> dict[str, Any]:
    """The settings of task `name`'s training, less those of its data (`RECIPE_EXCLUDED`).

    A real-valued task has no levels, so they are left out too.

    Args:
        name: A built-in task.

    Returns:
        Setting name to value, in the order of `SETTINGS`.

    Raises:
        CommandError: `name` is not a built-in task.

    Example:

    >>> from seq2seq.commands.tasks import recipe_settings
    >>> recipe = recipe_settings("g2p")
    >>> recipe["source_level"], recipe["target_level"], recipe["hidden"], "task" in recipe
    ('char', 'word', 256, False)
    """
    _check_name(name)
    excluded = set(RECIPE_EXCLUDED)
    if TASKS[name].kind != "text":
        excluded.update(SIDE_LEVELS)
    settings = resolve_settings({}, {}, task=name)
    return {key: value for key, value in settings.items() if key not in excluded}


def recipe_text(name: str) -> str:
    """Task `name`'s recipe as a TOML config file, with a comment on top saying how to use it."""
    suffix = "tsv" if TASKS[name].kind == "text" else "npz"
    comment = (
        f"The settings of the built-in task {name}, from seq2seq {__version__}.\n"
        f"Train them on your own data: seq2seq train MY.{suffix} --config THIS.toml"
    )
    return config_text(recipe_settings(name), comment)


def show_tasks(name: str | None = None, config: bool = False) -> int:
    """Runs `seq2seq tasks [NAME] [--config]`.

    Without arguments it prints one line per task; with `name`, that task's
    line; with `config` too, its recipe (see `recipe_text`).

    Args:
        name: A built-in task, or `None` for all.
        config: Print the task's recipe instead of its line.

    Returns:
        The exit status, 0.

    Raises:
        CommandError: `name` is not a built-in task, or `config` without a `name`.
    """
    if name is None:
        if config:
            raise CommandError(
                f"--config needs a task: expected NAME, one of {', '.join(TASKS)}; received none"
            )
        print("\n".join(task_lines()))
        return 0
    _check_name(name)
    if config:
        print(recipe_text(name), end="")
    else:
        print(task_lines()[list(TASKS).index(name)])
    return 0


def list_tasks() -> int:
    """Prints the built-in tasks. Returns the exit status, 0."""
    return show_tasks()
