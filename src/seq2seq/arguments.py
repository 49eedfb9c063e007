"""Checks and normalisation of arguments: the models' constructor arguments and the
decoding strategies' settings.

Each check raises a `ValueError` that names the argument, what it expects and what it
received. This module imports nothing of the package, so models, layers and decoding
can all use it without an import cycle.
"""

from typing import Any


def _is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def check_depth(depth) -> tuple[int, int]:
    """Returns `(encoder_depth, decoder_depth)` from an int or a pair of positive ints."""
    if _is_positive_int(depth):
        return depth, depth
    if (
        isinstance(depth, (tuple, list))
        and len(depth) == 2
        and all(_is_positive_int(d) for d in depth)
    ):
        return int(depth[0]), int(depth[1])
    raise ValueError(
        "Invalid value for argument `depth`. Expected a positive int or a pair of positive ints. "
        f"Received: depth={depth!r}"
    )


def check_positive(name: str, value, allow_none: bool = False):
    """Raises a `ValueError` naming `name` unless `value` is a positive int (or None if allowed)."""
    if value is None and allow_none:
        return value
    if not _is_positive_int(value):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a positive int. Received: {name}={value!r}"
        )
    return value


def check_rate(name: str, value) -> float:
    """Raises a `ValueError` unless `value` is a float in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a float in [0, 1). Received: {name}={value!r}"
        )
    return float(value)


def resolve_input_shape(
    batch_input_shape=None,
    input_shape=None,
    batch_size=None,
    input_dim=None,
    input_length=None,
    token_mode: bool = False,
) -> tuple:
    """The full input shape, with the original library's precedence.

    `batch_input_shape` wins; else `(batch_size,) + input_shape`; else
    `(batch_size, input_length, input_dim)`. In token mode the shape is
    `(batch_size, input_length)`.
    """
    if batch_input_shape is not None:
        shape = tuple(batch_input_shape)
        name, value = "batch_input_shape", batch_input_shape
    elif input_shape is not None:
        shape = (batch_size,) + tuple(input_shape)
        name, value = "input_shape", input_shape
    else:
        shape = (batch_size, input_length) if token_mode else (batch_size, input_length, input_dim)
        name, value = "input_dim", input_dim
    expected_rank = 2 if token_mode else 3
    if len(shape) != expected_rank:
        kind = "(batch, time) for token ids" if token_mode else "(batch, time, features)"
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a shape of rank {expected_rank}, {kind}. "
            f"Received: {name}={value!r}"
        )
    if batch_input_shape is None:
        _check_dim(shape[0], "batch_size", batch_size)
    else:
        _check_dim(shape[0], name, value, what="the batch size")
    if name == "input_dim":
        _check_dim(shape[1], "input_length", input_length)
    else:
        _check_dim(shape[1], name, value, what="the input length")
    if not token_mode and not _is_positive_int(shape[-1]):
        raise ValueError(
            "Invalid value for argument `input_dim`. Expected a positive int, given directly or through "
            f"`input_shape` or `batch_input_shape`. Received: input_dim={shape[-1]!r}"
        )
    return shape


def _check_dim(dim, name: str, value, what: str | None = None) -> None:
    """Raises a `ValueError` naming argument `name` unless `dim` is None or a positive int.

    `what` says which entry of a shape argument `dim` is ("the batch size").
    """
    if dim is None or _is_positive_int(dim):
        return
    expected = "None or a positive int" + (f" as {what}" if what else "")
    raise ValueError(
        f"Invalid value for argument `{name}`. Expected {expected}. Received: {name}={value!r}"
    )


def check_length_penalty(length_penalty: Any) -> float:
    """Raises a `ValueError` unless `length_penalty` is a number >= 0."""
    if (
        isinstance(length_penalty, bool)
        or not isinstance(length_penalty, (int, float))
        or not length_penalty >= 0
    ):
        raise ValueError(
            "Invalid value for argument `length_penalty`. Expected a number >= 0. "
            f"Received: length_penalty={length_penalty!r}"
        )
    return float(length_penalty)


def check_temperature(temperature: Any) -> float:
    """Raises a `ValueError` unless `temperature` is a number > 0."""
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not temperature > 0
    ):
        raise ValueError(
            "Invalid value for argument `temperature`. Expected a number > 0. "
            f"Received: temperature={temperature!r}"
        )
    return float(temperature)


def check_top_p(top_p: Any) -> float | None:
    """Raises a `ValueError` unless `top_p` is None or a number in (0, 1]."""
    if top_p is None:
        return None
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
        raise ValueError(
            f"Invalid value for argument `top_p`. Expected None or a number in (0, 1]. Received: top_p={top_p!r}"
        )
    return float(top_p)


def check_seed(seed: Any) -> int | None:
    """Raises a `ValueError` unless `seed` is None or an int >= 0."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(
            f"Invalid value for argument `seed`. Expected None or an int >= 0. Received: seed={seed!r}"
        )
    return seed
