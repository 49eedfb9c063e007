"""`seq2seq evaluate`: score a saved model on a data file or a task's test split."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from seq2seq.atomic import write_text
from seq2seq.commands import inference
from seq2seq.commands.datasets import load_dataset
from seq2seq.commands.errors import CommandError


def _task_sample(recorded: dict[str, Any], task: str, max_examples: int | None, seed: int | None):
    """The size and seed that made the task's splits when this model was trained.

    A synthetic task's test split depends on both, so the training run's
    `config.toml` next to the model supplies any that the command line leaves out.
    """
    if recorded.get("task") != task:
        recorded = {}
    if max_examples is None:
        max_examples = recorded.get("max_examples")
    if seed is None:
        seed = recorded.get("seed", 0)
    return max_examples, seed


def default_json_path(model_path: Path, description: str) -> Path:
    """`evaluation-<data name>.json` in the model's folder."""
    name = description.removeprefix("task ")
    return model_path.parent / f"evaluation-{Path(name).stem}.json"


def evaluate(
    model_path: str,
    data: str | None,
    task: str | None,
    json_path: str | None = None,
    beam: int | None = None,
    batch_size: int = inference.PREDICT_BATCH_SIZE,
    max_examples: int | None = None,
    seed: int | None = None,
    skip_header: bool = False,
    length_penalty: float | None = None,
    errors: int = 0,
) -> int:
    """Runs `seq2seq evaluate`: prints the scores and writes them as JSON.

    A data file is used whole; a task contributes its test split. `beam` and
    `length_penalty` default to the training run's (see `decoding_settings`).

    Returns:
        The exit status, 0.
    """
    model_path = Path(model_path)
    recorded = inference.recorded_settings(model_path)
    if task is not None:
        max_examples, seed = _task_sample(recorded, task, max_examples, seed)
    dataset = load_dataset(
        data=data,
        task=task,
        skip_header=skip_header,
        max_examples=max_examples,
        seed=seed or 0,
        whole_file_as_test=True,
    )
    model = inference.load_model(model_path)
    inference.check_compatible(model, str(model_path), dataset)
    if dataset.kind == "text" and task is None:
        # A data file's texts split as the model's vocabularies do (char->word for g2p).
        dataset = dataclasses.replace(
            dataset,
            source_level=model.source_vocabulary.level,
            target_level=model.target_vocabulary.level,
        )
    relative = bool(recorded.get("relative")) and dataset.kind == "real"
    beam, length_penalty = inference.decoding_settings(recorded, beam, length_penalty)
    report = inference.score_split(
        model,
        dataset,
        "test",
        beam=beam,
        batch_size=batch_size,
        relative=relative,
        length_penalty=length_penalty,
        errors=errors,
    )
    if data is not None:
        report["split"] = "all"
    report["model"] = str(model_path)
    output = Path(json_path) if json_path else default_json_path(model_path, dataset.description)
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_text(output, json.dumps(report, indent=2) + "\n")
    except OSError as error:
        raise CommandError(f"{output}: cannot write ({error.strerror or error})") from None
    print(inference.format_report(report))
    print(f"Wrote {output}")
    return 0
