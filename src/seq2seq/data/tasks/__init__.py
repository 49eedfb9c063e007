"""Built-in tasks, by name.

Example:

>>> from seq2seq.data.tasks import TASKS, get_task
>>> sorted(TASKS)
['addition', 'co2', 'dates', 'g2p', 'reverse', 'sort']
>>> splits = get_task("addition").load(num_examples=10, seed=1)
>>> len(splits["train"]), len(splits["validation"]), len(splits["test"])
(8, 1, 1)
"""

from __future__ import annotations

from seq2seq.data.tasks.co2 import SEASON_LENGTH, load_co2
from seq2seq.data.tasks.dates import load_dates
from seq2seq.data.tasks.g2p import load_g2p
from seq2seq.data.tasks.synthetic import load_addition, load_reverse, load_sort
from seq2seq.data.tasks.task import Task

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "reverse",
            "Reverse random strings of 5-15 letters over a 20-letter alphabet.",
            kind="text",
            loader=load_reverse,
            default_num_examples=20000,
        ),
        Task(
            "sort",
            "Sort the letters of random strings of 5-15 letters.",
            kind="text",
            loader=load_sort,
            default_num_examples=20000,
        ),
        Task(
            "addition",
            'Add two numbers of up to three digits: "123+45" -> "168".',
            kind="text",
            loader=load_addition,
            default_num_examples=50000,
        ),
        Task(
            "dates",
            'Normalise dates written 16 ways (1950-2049) to ISO: "Nov 25th, 2026" -> "2026-11-25".',
            kind="text",
            loader=load_dates,
            default_num_examples=25000,
        ),
        Task(
            "g2p",
            "English spelling to ARPAbet phonemes without stress, from CMUdict, split by word.",
            kind="text",
            loader=load_g2p,
            default_num_examples=None,
            source_level="char",
            target_level="word",
        ),
        Task(
            "co2",
            "Forecast 52 weeks of Mauna Loa CO2 from the past 104, standardised, split by time.",
            kind="real",
            loader=load_co2,
            default_num_examples=None,
            source_level=None,
            target_level=None,
            season_length=SEASON_LENGTH,
        ),
    )
}


def get_task(name: str) -> Task:
    """Returns the built-in task called `name`.

    Args:
        name: One of the keys of `TASKS`.

    Returns:
        The `Task`.
    """
    if name not in TASKS:
        raise ValueError(
            f"Invalid value for argument `name`. Expected one of {sorted(TASKS)}. "
            f"Received: name={name!r}"
        )
    return TASKS[name]


__all__ = ["TASKS", "Task", "get_task"]
