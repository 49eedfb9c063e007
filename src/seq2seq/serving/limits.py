"""`ServingLimits`: the sizes a server accepts and the batches it forms."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_BATCH = 64


@dataclass(frozen=True)
class ServingLimits:
    """Limits of `seq2seq serve`.

    Args:
        max_batch: Inputs decoded together at most (one `generate` call).
        max_wait_ms: How long the first request of a batch waits for others.
        max_queue: Requests waiting for the model at most; more are answered 503.
        max_inputs: Inputs in one request at most (413 above; at most `max_batch`).
        max_input_length: Symbols (characters, words or subword pieces) in one input at most (422 above).
        max_beam: The widest beam a request may ask for (422 above).
        max_body_bytes: Bytes in one request body at most (413 above).

    Example:

    >>> from seq2seq.serving.limits import ServingLimits
    >>> ServingLimits(max_batch=32).max_inputs
    32
    """

    max_batch: int = DEFAULT_MAX_BATCH
    max_wait_ms: float = 5.0
    max_queue: int = 1024
    max_inputs: int | None = None
    max_input_length: int = 200
    max_beam: int = 16
    max_body_bytes: int = 1_000_000

    def __post_init__(self):
        for name in ("max_batch", "max_queue", "max_input_length", "max_beam", "max_body_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Invalid value for argument `{name}`. Expected a positive int. "
                    f"Received: {name}={value!r}"
                )
        if not isinstance(self.max_wait_ms, (int, float)) or not 0 <= self.max_wait_ms <= 1000:
            raise ValueError(
                "Invalid value for argument `max_wait_ms`. Expected a number in [0, 1000]. "
                f"Received: max_wait_ms={self.max_wait_ms!r}"
            )
        if self.max_inputs is None:
            object.__setattr__(self, "max_inputs", self.max_batch)
        elif not 1 <= self.max_inputs <= self.max_batch:
            raise ValueError(
                "Invalid value for argument `max_inputs`. Expected 1 to `max_batch` "
                f"({self.max_batch}) inputs. Received: max_inputs={self.max_inputs!r}"
            )
