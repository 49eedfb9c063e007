"""Random sampling with temperature, top-k and top-p (nucleus) filtering."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from seq2seq.arguments import check_positive, check_seed, check_temperature, check_top_p
from seq2seq.decoding.sampler import NEG_INF, Sampler


class RandomSampler(Sampler):
    """Draws each token from the model's distribution, optionally sharpened and truncated.

    The logits are divided by `temperature` (below 1 sharper, above 1 flatter),
    then only the `top_k` most probable tokens are kept, then only the smallest
    set of most probable tokens whose probability sum reaches `top_p` (nucleus
    sampling, Holtzman et al. 2020; the token that crosses `top_p` is kept). The
    same `seed` gives the same samples. `top_k=1` is greedy decoding.

    The reported `log_probs` are the model's own (temperature 1, unfiltered)
    log-probabilities of the drawn tokens, so they compare with other strategies.

    Args:
        temperature: Number > 0 dividing the logits.
        top_k: None or int >= 1: sample among the `top_k` most probable tokens.
        top_p: None or number in (0, 1]: nucleus mass.
        seed: None or int >= 0. The random stream of one call starts from it.

    Example:
    >>> import numpy as np
    >>> from seq2seq.decoding import RandomSampler
    >>> from seq2seq.models import Seq2Seq
    >>> model = Seq2Seq(input_vocab_size=8, output_vocab_size=8, input_length=None,
    ...                 output_length=6, hidden_dim=8)
    >>> x = np.array([[4, 5, 6, 2]])
    >>> a = model.generate(x, strategy="random", top_p=0.9, seed=1)["ids"]
    >>> b = model.generate(x, strategy="random", top_p=0.9, seed=1)["ids"]
    >>> bool((a == b).all())
    True
    """

    draws_random = True

    def __init__(
        self,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed=None,
    ):
        self.temperature = check_temperature(temperature)
        self.top_k = check_positive("top_k", top_k, allow_none=True)
        self.top_p = check_top_p(top_p)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def initial_seed(self) -> np.ndarray:
        """The `(2,)` seed state a call starts from: `[seed, 0]`, or a fresh seed if `seed` is None."""
        seed = (
            self.seed if self.seed is not None else int(np.random.default_rng().integers(2**31 - 1))
        )
        return np.array([seed, 0], dtype=self.seed_generator.state.dtype)

    def batch_seed(self, number: int, max_length: int) -> np.ndarray:
        """`initial_seed()` advanced past the draws of the batches before: each batch
        draws at most `max_length` times, so batches never share a seed state."""
        return self.initial_seed() + np.array(
            [0, number * max_length], dtype=self.seed_generator.state.dtype
        )

    def get_next_token(self, logits: Any, seed: Any) -> tuple[Any, Any]:
        logits = logits / self.temperature
        cutoff = min(self.top_k or logits.shape[-1], logits.shape[-1])
        sorted_logits, sorted_ids = ops.top_k(logits, k=cutoff, sorted=True)  # (batch, cutoff)
        if self.top_p is not None:
            probs = ops.softmax(sorted_logits, axis=-1)
            before = ops.cumsum(probs, axis=-1) - probs
            sorted_logits = ops.where(
                before < self.top_p, sorted_logits, ops.full_like(sorted_logits, NEG_INF)
            )
        # The seed state travels in the loop carry; the scope reads and collects it.
        state = self.seed_generator.state
        with keras.StatelessScope(state_mapping=[(state, seed)]) as scope:
            choice = keras.random.categorical(
                sorted_logits, 1, seed=self.seed_generator, dtype="int32"
            )
            seed = scope.get_current_value(state)
        return ops.take_along_axis(sorted_ids, choice, axis=1)[:, 0], seed

    def get_config(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "seed": self.seed,
        }
