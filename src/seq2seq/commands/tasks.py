"""`seq2seq tasks`: one line per built-in task."""

from __future__ import annotations

from seq2seq.data.tasks import TASKS


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


def list_tasks() -> int:
    """Prints the built-in tasks. Returns the exit status, 0."""
    for line in task_lines():
        print(line)
    return 0
