"""Human-written dates in many formats mapped to ISO dates (`"2026-11-25"`)."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import numpy as np

from seq2seq.data.tasks.splits import Pair, split_pairs, unique_pairs

FIRST_DAY = datetime.date(1950, 1, 1)
LAST_DAY = datetime.date(2049, 12, 31)

# English names written out here rather than taken from `calendar`, whose names
# follow the process locale.
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


_SUFFIXES = {1: "st", 2: "nd", 3: "rd"}


def ordinal(day: int) -> str:
    """Returns `day` with its English suffix: 1st, 2nd, 3rd, 4th, 11th, 22nd."""
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    return f"{day}{_SUFFIXES.get(day % 10, 'th')}"


def _month(d: datetime.date) -> str:
    return MONTHS[d.month - 1]


def _mon(d: datetime.date) -> str:
    return MONTHS[d.month - 1][:3]


def _weekday(d: datetime.date) -> str:
    return WEEKDAYS[d.weekday()]


# Each format writes one date; slashes are always month first and dots always
# day first, so every written date has exactly one reading.
FORMATS: tuple[Callable[[datetime.date], str], ...] = (
    lambda d: f"{d.day} {_mon(d)} {d.year}",  # 25 Nov 2026
    lambda d: f"{_month(d)} {d.day}, {d.year}",  # November 25, 2026
    lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",  # 11/25/26
    lambda d: f"{_weekday(d)}, {d.day} {_month(d)} {d.year}",  # Wednesday, 25 November 2026
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",  # 25.11.2026
    lambda d: f"{_mon(d).lower()} {d.day} {d.year}",  # nov 25 2026
    lambda d: f"{d.month}/{d.day}/{d.year}",  # 11/25/2026
    lambda d: f"{d.day} {_month(d).lower()} {d.year}",  # 25 november 2026
    lambda d: f"{_weekday(d)[:3]}, {_mon(d)} {d.day}, {d.year}",  # Wed, Nov 25, 2026
    lambda d: f"{_month(d).upper()} {d.day} {d.year}",  # NOVEMBER 25 2026
    lambda d: f"{d.day:02d}-{_mon(d)}-{d.year}",  # 25-Nov-2026
    lambda d: f"{_mon(d)} {ordinal(d.day)}, {d.year}",  # Nov 25th, 2026
    lambda d: f"the {ordinal(d.day)} of {_month(d)} {d.year}",  # the 25th of November 2026
    lambda d: f"{_weekday(d)} {_month(d)} {d.day} {d.year}",  # Wednesday November 25 2026
    lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",  # 2026/11/25
    lambda d: f"{d.day}.{d.month}.{d.year % 100:02d}",  # 25.11.26
)


def _dates_batch(rng: np.random.Generator, size: int) -> list[Pair]:
    span = (LAST_DAY - FIRST_DAY).days + 1
    offsets = rng.integers(0, span, size=size).tolist()
    formats = rng.integers(0, len(FORMATS), size=size).tolist()
    pairs = []
    for offset, index in zip(offsets, formats, strict=True):
        day = FIRST_DAY + datetime.timedelta(days=offset)
        pairs.append((FORMATS[index](day), day.isoformat()))
    return pairs


def load_dates(num_examples: int, seed: int) -> dict:
    """Dates from 1950 to 2049 in 16 English formats, mapped to ISO 8601."""
    rng = np.random.default_rng(seed)
    return split_pairs(unique_pairs(_dates_batch, num_examples, rng, "dates"))
