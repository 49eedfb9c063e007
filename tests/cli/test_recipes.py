"""Recipes for your own data: separate source/target levels, dictionaries that list a source
on several lines, and `seq2seq tasks NAME --config`."""

import json

import numpy as np
import pytest
from cli_helpers import run
from helpers import backend_independent

from seq2seq.commands.datasets import load_dataset
from seq2seq.config import SETTINGS, ConfigError, load_config, resolve_settings
from seq2seq.data.tasks import TASKS

PHONES = {"a": "AE", "b": "B", "d": "D", "e": "EH", "k": "K", "o": "OW", "s": "S", "t": "T"}
# A recipe is for another file: these belong to the task.
NOT_IN_RECIPES = ("task", "data", "out", "max_examples")


def _dictionary(path, words=160, seed=0):
    """`word<TAB>P H O N E S` lines; every fourth word has a second pronunciation on its
    own line, further down. Returns `{word: [pronunciations]}` in file order."""
    rng = np.random.default_rng(seed)
    letters = sorted(PHONES)
    table = {}
    while len(table) < words:
        word = "".join(rng.choice(letters, size=int(rng.integers(2, 6))))
        table.setdefault(word, [" ".join(PHONES[letter] for letter in word)])
    lines = [f"{word}\t{spoken[0]}" for word, spoken in table.items()]
    for word in list(table)[::4]:
        other = table[word][0].replace("AE", "AH").replace("EH", "IH").replace("OW", "AA")
        if other == table[word][0]:
            other += " Z"
        table[word].append(other)
        lines.append(f"{word}\t{other}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return table


@pytest.fixture
def settings_given_to_train(monkeypatch):
    """Runs `seq2seq train ...` up to the point where it would train; returns the settings."""
    import seq2seq.commands.train as train_module

    captured = {}

    def fake_train(settings, resume=False, overwrite=False):
        captured.update(settings)
        return 0

    monkeypatch.setattr(train_module, "train", fake_train)

    def settings(*args):
        code, _, err = run("train", *args)
        assert code == 0, err
        return dict(captured)

    return settings


# Levels.


def test_levels_default_to_the_level_shorthand():
    settings = resolve_settings({}, {})
    assert (settings["level"], settings["source_level"], settings["target_level"]) == (
        "char",
        "char",
        "char",
    )
    settings = resolve_settings({"level": "word"}, {})
    assert (settings["source_level"], settings["target_level"]) == ("word", "word")


def test_a_side_specific_level_beats_the_shorthand():
    settings = resolve_settings({"level": "word", "source_level": "char"}, {})
    assert (settings["source_level"], settings["target_level"]) == ("char", "word")
    settings = resolve_settings({"level": "word"}, {"target_level": "char"})
    assert (settings["source_level"], settings["target_level"]) == ("word", "char")


def test_a_task_brings_its_own_levels():
    settings = resolve_settings({}, {}, task="g2p")
    assert (settings["source_level"], settings["target_level"]) == ("char", "word")
    settings = resolve_settings({}, {}, task="co2")
    assert (settings["source_level"], settings["target_level"]) == ("char", "char")


def test_levels_from_flags_and_config_file(tmp_path, settings_given_to_train):
    (tmp_path / "pairs.tsv").write_text("a\tb\n")
    (tmp_path / "run.toml").write_text('level = "word"\nsource-level = "char"\n')
    settings = settings_given_to_train(tmp_path / "pairs.tsv", "--config", tmp_path / "run.toml")
    assert (settings["level"], settings["source_level"], settings["target_level"]) == (
        "word",
        "char",
        "word",
    )
    settings = settings_given_to_train(
        tmp_path / "pairs.tsv", "--config", tmp_path / "run.toml", "--target-level", "char"
    )
    assert (settings["source_level"], settings["target_level"]) == ("char", "char")
    settings = settings_given_to_train(tmp_path / "pairs.tsv", "--level", "word")
    assert (settings["source_level"], settings["target_level"]) == ("word", "word")


def test_load_dataset_levels(tmp_path):
    _dictionary(tmp_path / "dict.tsv", words=20)
    data = load_dataset(tmp_path / "dict.tsv", source_level="char", target_level="word")
    assert (data.source_level, data.target_level) == ("char", "word")
    data = load_dataset(tmp_path / "dict.tsv", level="word", source_level="char")
    assert (data.source_level, data.target_level) == ("char", "word")
    data = load_dataset(tmp_path / "dict.tsv", level="word")
    assert (data.source_level, data.target_level) == ("word", "word")


@backend_independent
def test_char_to_word_dictionary_trains_and_evaluates(tmp_path):
    table = _dictionary(tmp_path / "dict.tsv")
    code, out, err = run(
        "train", tmp_path / "dict.tsv", "--source-level", "char", "--target-level", "word",
        "--hidden", 8, "--embedding-dim", 8, "--epochs", 1, "--batch-size", 32,
        "--checkpoint-every", 0, "--out", tmp_path / "run",
    )  # fmt: skip
    assert code == 0, err
    written = load_config(tmp_path / "run" / "config.toml")
    assert (written["source_level"], written["target_level"]) == ("char", "word")
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert report["level"] == "word" and report["examples"] == 16  # 10% of 160 words

    import keras

    model = keras.saving.load_model(tmp_path / "run" / "model.keras", compile=False)
    assert model.source_vocabulary.level == "char" and model.target_vocabulary.level == "word"
    assert set(model.target_vocabulary.tokens) >= {"AE", "K"}

    code, out, err = run(
        "evaluate", tmp_path / "run" / "model.keras", tmp_path / "dict.tsv",
        "--json", tmp_path / "scores.json",
    )  # fmt: skip
    assert code == 0, err
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["level"] == "word" and scores["split"] == "all"
    assert scores["examples"] == len(table)  # each word once, scored against all its lines
    assert set(scores["metrics"]) == {"exact_match", "token_error_rate", "bleu", "chrf"}


# Data files that list a source on several lines.


def test_repeated_sources_stay_in_one_split_with_every_reference(tmp_path):
    table = _dictionary(tmp_path / "dict.tsv")
    data = load_dataset(tmp_path / "dict.tsv", level="word", seed=3)
    seen = {name: set(part["sources"]) for name, part in data.splits.items()}
    assert not seen["train"] & seen["validation"]
    assert not seen["train"] & seen["test"]
    assert not seen["validation"] & seen["test"]
    assert set().union(*seen.values()) == set(table)
    for name, part in data.splits.items():
        for source, target, references in zip(
            part["sources"], part["targets"], part["references"], strict=True
        ):
            assert references == table[source] and target in references, (name, source)
    # Training uses every line; a held-out split scores each source once.
    train = data.splits["train"]
    assert len(train["sources"]) == sum(len(table[source]) for source in seen["train"])
    assert sorted(zip(train["sources"], train["targets"])) == sorted(
        (source, target) for source in seen["train"] for target in table[source]
    )
    for name in ("validation", "test"):
        part = data.splits[name]
        assert len(part["sources"]) == len(seen[name]) == 16  # 10% of 160 words
        assert part["targets"] == [table[source][0] for source in part["sources"]]


def test_split_is_deterministic_given_the_seed(tmp_path):
    _dictionary(tmp_path / "dict.tsv")
    first = load_dataset(tmp_path / "dict.tsv", seed=5).splits
    assert load_dataset(tmp_path / "dict.tsv", seed=5).splits == first
    assert load_dataset(tmp_path / "dict.tsv", seed=6).splits["test"] != first["test"]


def test_a_file_without_repeats_splits_as_before(tmp_path):
    lines = [(f"w{i}", f"T{i % 7} U{i}") for i in range(50)]
    (tmp_path / "pairs.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in lines))
    data = load_dataset(tmp_path / "pairs.tsv", seed=2, max_examples=40)
    # The split of earlier versions: the seed's permutation cut 32/4/4, in order.
    order = np.random.default_rng(2).permutation(50)[:40].tolist()
    for name, (start, stop) in {"train": (0, 32), "validation": (32, 36), "test": (36, 40)}.items():
        expected = [lines[i] for i in order[start:stop]]
        part = data.splits[name]
        assert list(zip(part["sources"], part["targets"])) == expected
        assert part["references"] == [[target] for _, target in expected]


def test_evaluation_of_a_file_scores_each_source_once(tmp_path):
    table = _dictionary(tmp_path / "dict.tsv", words=12)
    test = load_dataset(tmp_path / "dict.tsv", whole_file_as_test=True).splits["test"]
    assert test["sources"] == list(table)
    assert test["references"] == list(table.values())


# Recipes: `seq2seq tasks NAME --config`.


def _recipe(tmp_path, name):
    code, out, err = run("tasks", name, "--config")
    assert (code, err) == (0, ""), err
    path = tmp_path / f"{name}.toml"
    path.write_text(out, encoding="utf-8")
    return out, path


def _without(settings, keys=NOT_IN_RECIPES):
    return {key: value for key, value in settings.items() if key not in keys}


@pytest.mark.parametrize("name", list(TASKS))
def test_recipe_round_trip(tmp_path, name, settings_given_to_train):
    from seq2seq import __version__

    text, path = _recipe(tmp_path, name)
    first = text.splitlines()[0]
    assert first.startswith("# ") and name in first and __version__ in first
    assert "--config" in text.splitlines()[1]
    loaded = load_config(path)
    assert not set(loaded) & {*NOT_IN_RECIPES, "level"}
    task_settings = resolve_settings({}, {}, task=name)
    assert _without(resolve_settings({}, loaded)) == _without(task_settings)
    if TASKS[name].kind == "text":
        assert (loaded["source_level"], loaded["target_level"]) == (
            TASKS[name].source_level,
            TASKS[name].target_level,
        )
    else:
        assert "source_level" not in loaded and "target_level" not in loaded
    # And through the command line, on another file.
    data = tmp_path / ("my.tsv" if TASKS[name].kind == "text" else "my.npz")
    given = settings_given_to_train(data, "--config", path)
    assert given["data"] == str(data) and given["task"] is None
    assert _without(given) == _without(task_settings)


def test_g2p_recipe_names_its_levels_and_sizes(tmp_path):
    _, path = _recipe(tmp_path, "g2p")
    loaded = load_config(path)
    assert loaded["hidden"] == 256 and loaded["embedding_dim"] == 64
    task_settings = resolve_settings({}, {}, task="g2p")
    assert list(loaded) == [
        name
        for name in SETTINGS
        if name not in (*NOT_IN_RECIPES, "level") and task_settings[name] is not None
    ]


def test_tasks_still_lists_every_task():
    code, out, err = run("tasks")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == list(TASKS)
    code, out, err = run("tasks", "g2p")
    assert code == 0 and out.split()[:2] == ["g2p", "char->word"]


# Errors.


def _one_line_error(command, *args):
    code, out, err = run(command, *args)
    assert (code, out) == (2, ""), (code, out, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


def test_tasks_errors():
    message = _one_line_error("tasks", "--config")
    assert message.startswith("seq2seq tasks: error: --config needs a task: expected NAME")
    assert "g2p" in message and message.endswith("received none")
    message = _one_line_error("tasks", "translate", "--config")
    assert "argument NAME: expected one of reverse, sort" in message
    assert message.endswith("received 'translate'")
    assert _one_line_error("tasks", "translate") == message


def test_level_errors(tmp_path):
    (tmp_path / "pairs.tsv").write_text("a\tb\n")
    message = _one_line_error("train", tmp_path / "pairs.tsv", "--target-level", "phone")
    assert "argument --target-level: invalid choice: 'phone'" in message
    (tmp_path / "run.toml").write_text('source_level = "phone"\n')
    with pytest.raises(ConfigError, match="invalid value for `source_level`: expected one of"):
        load_config(tmp_path / "run.toml")
    message = _one_line_error("train", tmp_path / "pairs.tsv", "--config", tmp_path / "run.toml")
    assert message.endswith("expected one of char, word, subword; received 'phone'")
