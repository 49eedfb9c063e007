import collections
import datetime
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import seq2seq.data.tasks as tasks_module
from seq2seq.data.tasks import TASKS, Task, get_task
from seq2seq.data.tasks.co2 import (
    INPUT_LENGTH,
    OUTPUT_LENGTH,
    SPLIT_POINTS,
    enso_anomaly,
    load_co2,
    weekly_series,
)
from seq2seq.data.tasks.dates import FORMATS
from seq2seq.data.tasks.g2p import pronunciations, word_split

SPLITS = ("train", "validation", "test")
TEXT_TASKS = [name for name, task in TASKS.items() if task.kind == "text"]


def sources(splits, name):
    return [source for source, _ in splits[name]]


def test_registry():
    assert sorted(TASKS) == ["addition", "co2", "dates", "g2p", "reverse", "sort"]
    for name, task in TASKS.items():
        assert isinstance(task, Task) and task.name == name
        assert task.description and "\n" not in task.description
    assert (TASKS["g2p"].source_level, TASKS["g2p"].target_level) == ("char", "word")
    assert TASKS["g2p"].level == "word"
    assert TASKS["dates"].level == "char"
    assert TASKS["co2"].kind == "real"


def test_unknown_task_lists_valid_names():
    with pytest.raises(ValueError) as info:
        get_task("revers")
    assert str(info.value) == (
        "Invalid value for argument `name`. Expected one of "
        "['addition', 'co2', 'dates', 'g2p', 'reverse', 'sort']. Received: name='revers'"
    )


def test_load_argument_errors():
    with pytest.raises(ValueError, match="Received: num_examples=2"):
        get_task("reverse").load(num_examples=2)
    with pytest.raises(ValueError, match="Received: seed=-1"):
        get_task("reverse").load(num_examples=10, seed=-1)


@pytest.mark.parametrize("name", TEXT_TASKS)
def test_text_tasks_are_deterministic_and_split_disjointly(name):
    task = get_task(name)
    first = task.load(num_examples=300, seed=3)
    assert first == task.load(num_examples=300, seed=3)
    assert first != task.load(num_examples=300, seed=4)
    seen = set()
    for split in SPLITS:
        pairs = first[split]
        assert pairs, split
        assert all(isinstance(s, str) and isinstance(t, str) and s and t for s, t in pairs)
        assert len(first["references"][split]) == len(pairs)
        assert all(
            t in refs for (_, t), refs in zip(pairs, first["references"][split], strict=True)
        )
        split_sources = set(sources(first, split))
        assert not split_sources & seen
        seen |= split_sources


@pytest.mark.parametrize("name", ["reverse", "sort", "addition", "dates"])
def test_split_sizes(name):
    splits = get_task(name).load(num_examples=1000, seed=0)
    assert [len(splits[s]) for s in SPLITS] == [800, 100, 100]


def test_reverse_and_sort_targets():
    for source, target in get_task("reverse").load(num_examples=200)["train"]:
        assert target == source[::-1]
        assert 5 <= len(source) <= 15 and set(source) <= set("abcdefghijklmnopqrst")
    for source, target in get_task("sort").load(num_examples=200)["train"]:
        assert target == "".join(sorted(source))


def test_addition_sums_are_right():
    splits = get_task("addition").load(num_examples=500, seed=1)
    for split in SPLITS:
        for source, target in splits[split]:
            match = re.fullmatch(r"(\d{1,3})\+(\d{1,3})", source)
            assert match, source
            assert int(target) == int(match[1]) + int(match[2])


WEEKDAY_NAMES = {
    name: index
    for index, full in enumerate(
        ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    )
    for name in (full, full[:3])
}


def parse_date(text):
    """An independent reader for the task's formats, built on strptime."""
    text = re.sub(r"^the ", "", text)
    text = re.sub(r"(\d+)(st|nd|rd|th)", r"\1", text).replace(" of ", " ")
    formats = [
        "%d %b %Y", "%B %d, %Y", "%m/%d/%y", "%A, %d %B %Y", "%d.%m.%Y", "%b %d %Y",
        "%m/%d/%Y", "%d %B %Y", "%a, %b %d, %Y", "%B %d %Y", "%d-%b-%Y", "%b %d, %Y",
        "%A %B %d %Y", "%Y/%m/%d", "%d.%m.%y",
    ]  # fmt: skip
    readings = set()
    for fmt in formats:
        try:
            day = datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if "%y" in fmt and day.year >= 2050:
            day = day.replace(year=day.year - 100)
        readings.add(day)
    assert len(readings) == 1, (text, readings)
    return readings.pop()


def test_dates_targets_match_sources():
    splits = get_task("dates").load(num_examples=2000, seed=0)
    pairs = [pair for split in SPLITS for pair in splits[split]]
    checked_weekdays = 0
    for source, target in pairs:
        day = datetime.date.fromisoformat(target)
        assert 1950 <= day.year <= 2049
        assert parse_date(source) == day, source
        # strptime ignores the weekday, so check it on its own.
        first_word = re.split(r"[ ,]", source)[0]
        if first_word in WEEKDAY_NAMES:
            assert WEEKDAY_NAMES[first_word] == day.weekday(), source
            checked_weekdays += 1
    assert checked_weekdays > 100
    assert len({re.sub(r"\d", "0", s.lower()) for s, _ in pairs}) >= len(FORMATS)


def test_dates_example_formats():
    day = datetime.date(2026, 11, 25)
    written = [fmt(day) for fmt in FORMATS]
    for text in [
        "25 Nov 2026", "November 25, 2026", "11/25/26", "Wednesday, 25 November 2026",
        "25.11.2026", "nov 25 2026", "Nov 25th, 2026", "the 25th of November 2026",
    ]:  # fmt: skip
        assert text in written
    assert len(set(written)) == len(FORMATS)


def test_g2p_pronunciations_without_stress():
    table = pronunciations()
    assert table["read"] == ["R EH D", "R IY D"]
    assert table["tomato"] == ["T AH M EY T OW", "T AH M AA T OW"]
    # The whole dictionary: every letters-only word, of any length.
    assert len(table) == 117493 and all(w.isascii() and w.isalpha() for w in table)
    assert "a" in table and "antidisestablishmentarianism" in table
    assert not any(re.search(r"\d", p) for prons in list(table.values())[:5000] for p in prons)


def test_g2p_split_is_by_word_and_stable():
    first = get_task("g2p").load(num_examples=3000, seed=0)
    second = get_task("g2p").load(num_examples=3000, seed=1)
    for split in SPLITS:
        assert all(word_split(word) == split for word in sources(first, split))
    train_words = set(sources(first, "train")) | set(sources(second, "train"))
    held_out = set(sources(first, "test")) | set(sources(second, "validation"))
    assert not train_words & held_out
    several = [refs for refs in first["references"]["train"] if len(refs) > 1]
    assert several
    assert 0.05 < len(first["test"]) / 3000 < 0.15


def test_g2p_trains_on_every_pronunciation_and_scores_one_pair_per_word():
    splits = get_task("g2p").load(num_examples=3000, seed=0)
    table = pronunciations()
    trained = collections.defaultdict(list)
    for word, spoken in splits["train"]:
        trained[word].append(spoken)
    assert all(sorted(trained[word]) == sorted(table[word]) for word in trained)
    assert len(splits["train"]) > len(trained)  # some words have several
    for split in ("validation", "test"):
        words = sources(splits, split)
        assert len(set(words)) == len(words)
        assert [t for _, t in splits[split]] == [table[w][0] for w in words]
        assert splits["references"][split] == [table[w] for w in words]


def test_co2_windows():
    data = get_task("co2").load()
    raw, dates = weekly_series()
    assert not np.isnan(raw).any() and len(dates) == len(raw)
    mean, std = data["scaling"]["mean"], data["scaling"]["std"]
    previous_end = -1
    for split in SPLITS:
        x, y, t = data[split]["x"], data[split]["y"], data[split]["t"]
        assert x.dtype == np.float32 and y.dtype == np.float32
        assert x.shape == (len(t), INPUT_LENGTH, 1) and y.shape == (len(t), OUTPUT_LENGTH, 1)
        # Split by time: every target of a split comes after those of the previous one.
        assert t.min() > previous_end
        previous_end = t.max() + OUTPUT_LENGTH - 1
        i = len(t) // 2
        np.testing.assert_allclose(y[i, :, 0] * std + mean, raw[t[i] : t[i] + 52], rtol=1e-5)
        np.testing.assert_allclose(x[i, :, 0] * std + mean, raw[t[i] - 104 : t[i]], rtol=1e-5)
    assert abs(data["train"]["y"].mean()) < 0.5
    assert 300 < mean < 360
    smaller = get_task("co2").load(num_examples=100)
    assert 95 <= sum(len(smaller[s]["t"]) for s in SPLITS) <= 105


def test_co2_longer_windows_keep_the_held_out_targets():
    short, long = load_co2(None, 0), load_co2(None, 0, input_length=156)
    raw, _ = weekly_series()
    for split in ("validation", "test"):
        np.testing.assert_array_equal(short[split]["t"], long[split]["t"])
        np.testing.assert_array_equal(short[split]["y"], long[split]["y"])
        assert long[split]["x"].shape == (len(long[split]["t"]), 156, 1)
    # The longer windows end where the short ones do.
    np.testing.assert_array_equal(long["test"]["x"][:, -104:], short["test"]["x"])
    assert long["train"]["t"][0] == 156 and long["input_length"] == 156
    assert len(long["train"]["t"]) == len(short["train"]["t"]) - 52
    with pytest.raises(ValueError, match="argument `input_length`.*Received: input_length=0"):
        load_co2(None, 0, input_length=0)


def test_co2_enso_is_a_second_input_over_the_input_weeks_only():
    plain, data = load_co2(None, 0), load_co2(None, 0, enso=True)
    _, dates = weekly_series()
    index = enso_anomaly(dates, int(len(dates) * SPLIT_POINTS[0]))
    for split in SPLITS:
        x, t = data[split]["x"], data[split]["t"]
        assert x.shape == (len(t), INPUT_LENGTH, 2) and x.dtype == np.float32
        # CO2 first, as without the index; the targets are CO2 alone.
        np.testing.assert_array_equal(x[..., :1], plain[split]["x"])
        np.testing.assert_array_equal(data[split]["y"], plain[split]["y"])
        i = len(t) // 2
        np.testing.assert_allclose(x[i, :, 1], index[t[i] - INPUT_LENGTH : t[i]], rtol=1e-6)
    # Standardised on the training years.
    train_weeks = int(len(dates) * SPLIT_POINTS[0])
    assert abs(index[:train_weeks].mean()) < 0.05 and abs(index[:train_weeks].std() - 1) < 0.05
    # The 1997-98 El Nino: the index passes 2.5 standard deviations by late 1997.
    assert index[dates.index("1997-12-06")] > 2.5


def test_enso_anomaly_reads_only_months_ended_before_each_week():
    _, dates = weekly_series()
    index = dict(zip(dates, enso_anomaly(dates, int(len(dates) * SPLIT_POINTS[0]))))
    # Every week of January 1997 sees December 1996; the first of February sees January.
    january = [index[date] for date in dates if date.startswith("1997-01")]
    assert len(january) == 4 and len(set(january)) == 1
    assert index["1997-02-01"] != january[0]
    with pytest.raises(ValueError, match="argument `dates`.*Received: dates from 1949-12-03"):
        enso_anomaly(("1949-12-03", "1950-03-04"), 1)


def test_light_modules_do_not_import_keras():
    # Load the package folder without running seq2seq/__init__.py, which imports the models.
    package_dir = os.path.dirname(os.path.dirname(os.path.dirname(tasks_module.__file__)))
    code = (
        "import sys, types\n"
        "package = types.ModuleType('seq2seq')\n"
        f"package.__path__ = [{package_dir!r}]\n"
        "sys.modules['seq2seq'] = package\n"
        "import seq2seq.data, seq2seq.data.tasks, seq2seq.data.readers\n"
        "import seq2seq.metrics, seq2seq.plotting\n"
        "assert 'keras' not in sys.modules, 'keras was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
