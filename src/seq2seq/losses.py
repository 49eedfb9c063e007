"""The token-mode training loss: cross-entropy over the non-padding steps, with label smoothing."""

from __future__ import annotations

import keras
from keras import ops

from seq2seq.conventions import PAD_ID


@keras.saving.register_keras_serializable(package="seq2seq")
class TokenCrossEntropy(keras.losses.Loss):
    """Cross-entropy of token ids, padding ignored, with optional label smoothing.

    With `label_smoothing=eps` the target distribution puts `1 - eps` on the
    right token and spreads `eps` evenly over the whole vocabulary, as
    `keras.losses.CategoricalCrossentropy(label_smoothing=eps)` does for one-hot
    targets (and as in Szegedy et al. 2016, used by most translation systems).
    Steps whose target is `ignore_class` (the padding id 0) count for nothing,
    and the loss is the mean over the other steps of the batch, as
    `keras.losses.SparseCategoricalCrossentropy(ignore_class=0)` computes it;
    with `label_smoothing=0` the two agree.

    Args:
        from_logits: Whether `y_pred` holds logits (else probabilities).
        label_smoothing: Mass in [0, 1) given to the uniform distribution.
        ignore_class: The target id that marks padding, or `None` for none.
        **kwargs: `keras.losses.Loss` arguments (`name`, `reduction`, `dtype`).

    Call arguments:
        y_true: Token ids `(batch, time)`.
        y_pred: Probabilities or logits `(batch, time, vocab)`.

    Example:

    >>> import numpy as np
    >>> from seq2seq.losses import TokenCrossEntropy
    >>> loss = TokenCrossEntropy(label_smoothing=0.1)
    >>> round(float(loss(np.array([[1, 0]]), np.full((1, 2, 4), 0.25))), 4)
    1.3863
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        ignore_class=PAD_ID,
        name="token_cross_entropy",
        **kwargs,
    ):
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(
                "Invalid value for argument `label_smoothing`. Expected a number in [0, 1). "
                f"Received: label_smoothing={label_smoothing!r}"
            )
        super().__init__(name=name, **kwargs)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.ignore_class = ignore_class

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        y_pred = ops.cast(y_pred, "float32")
        if self.from_logits:
            log_probs = ops.log_softmax(y_pred, axis=-1)
        else:
            log_probs = ops.log(ops.clip(y_pred, keras.config.epsilon(), 1.0))
        picked = ops.take_along_axis(log_probs, ops.expand_dims(y_true, -1), axis=-1)[..., 0]
        losses = -picked
        if self.label_smoothing:
            uniform = -ops.mean(log_probs, axis=-1)
            losses = (1.0 - self.label_smoothing) * losses + self.label_smoothing * uniform
        if self.ignore_class is None:
            return losses
        valid = ops.cast(ops.not_equal(y_true, self.ignore_class), losses.dtype)
        # The reduction divides by every step; rescaling makes it the mean over valid ones.
        scale = ops.cast(ops.size(valid), losses.dtype) / ops.maximum(ops.sum(valid), 1.0)
        return losses * valid * scale

    def get_config(self):
        config = {
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "ignore_class": self.ignore_class,
        }
        return {**super().get_config(), **config}
