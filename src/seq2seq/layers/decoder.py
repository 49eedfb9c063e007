"""Recurrent decoder with output feedback, optional peek, attention and teacher forcing."""

import keras
from keras import ops

from seq2seq.conventions import START_ID
from seq2seq.layers import fused, fused_decoding
from seq2seq.layers.bahdanau_attention import BahdanauAttention
from seq2seq.layers.cell_factory import make_cell


@keras.saving.register_keras_serializable(package="seq2seq")
class Decoder(keras.layers.Layer):
    """A stack of recurrent cells that feeds each step's output back as the next input.

    One implementation serves real values and token ids. The value fed back at step
    `t` is the previous output (real-valued) or the embedding of its arg-max id (token
    mode); step 0 receives the start value (a vector the model computes, or the start
    token's embedding). With `peek=True` the context vector is an extra input of every
    step (Cho et al. 2014). With `attention=True` the first layer receives a Bahdanau
    context computed from its previous state, further layers are stacked above it, and
    the output layer reads `[h_t; context_t]`.

    Three modes: free running (no targets), teacher forcing (targets given: step `t`
    receives target `t-1`, never target `t`; input projections and the output layer run
    once over all steps outside the loop), and scheduled sampling (targets plus a
    per-step choice of feeding the model's own prediction).

    Args:
        units: Hidden size of every layer.
        output_dim: Size of each output vector, or the vocabulary size in token mode.
        depth: Number of stacked layers.
        cell: `"lstm"` or `"gru"`.
        output_activation: Activation of the output layer (real-valued mode).
        output_vocab_size: If set, token mode: outputs are logits over this vocabulary.
        embedding_dim: Size of the target embedding in token mode.
        feedback_dim: Size of the fed-back value in real-valued mode (`output_dim`).
        memory_dim: Feature size of the encoder outputs (attention) or context (peek).
        attention: Use Bahdanau attention over the encoder outputs.
        attention_units: Hidden size of the attention layer (default `units`).
        peek: Feed the context vector into every step.
        inner_broadcast_state: Thread one state vertically through the stack at each
            step (the original library's behaviour) instead of a state per layer.
        dropout: Dropout between stacked layers and on the readout before the output
            layer (one mask per sequence).
        seed: Seed of the dropout masks (a run resumed from a checkpoint draws the same ones).
        unroll: Unroll the decoding loop.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        bundle: Dict from the model: `start` `(batch, output_dim)` in real-valued mode,
            `context` `(batch, memory_dim)`, `memory` `(batch, in_len, memory_dim)`,
            `mask` `(batch, in_len)` or None.
        initial_states: List over layers of lists of `(batch, units)` tensors.
        length: Number of steps to run when free running.
        targets: Optional targets for teacher forcing, `(batch, out_len, output_dim)`
            floats or `(batch, out_len)` ids.
        sample_mask: Optional `(out_len, batch, 1)` floats, 1 where the step feeds the
            model's own prediction instead of the target (scheduled sampling).
        training: Enables dropout.

    Returns:
        Dict with `outputs` `(batch, out_len, output_dim)` (logits in token mode) and
        `attention` `(batch, out_len, in_len)` or None.

    Example:
    >>> import numpy as np
    >>> from seq2seq.layers import Decoder
    >>> decoder = Decoder(8, output_dim=3, feedback_dim=3)
    >>> decoder.build()
    >>> states = [[np.zeros((2, 8), "float32"), np.zeros((2, 8), "float32")]]
    >>> result = decoder({"start": np.zeros((2, 3), "float32")}, states, length=4)
    >>> tuple(result["outputs"].shape)
    (2, 4, 3)
    """

    # `prepare(bundle)` entries shared by the whole batch (no batch axis).
    shared_keys = ("context_kernel", "feature_table")

    def __init__(
        self,
        units,
        output_dim,
        depth=1,
        cell="lstm",
        output_activation="linear",
        output_vocab_size=None,
        embedding_dim=None,
        feedback_dim=None,
        memory_dim=None,
        attention=False,
        attention_units=None,
        peek=False,
        inner_broadcast_state=False,
        dropout=0.0,
        seed=None,
        unroll=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units
        self.output_dim = output_dim
        self.depth = depth
        self.cell = cell
        self.output_activation = output_activation
        self.output_vocab_size = output_vocab_size
        self.embedding_dim = embedding_dim
        self.feedback_dim = feedback_dim
        self.memory_dim = memory_dim
        self.attention = attention
        self.attention_units = attention_units
        self.peek = peek
        self.inner_broadcast_state = inner_broadcast_state
        self.dropout = dropout
        self.seed = seed
        self.unroll = unroll
        self.token_mode = bool(output_vocab_size)
        self.feature_dim = embedding_dim if self.token_mode else (feedback_dim or output_dim)
        self.context_dim = memory_dim if (attention or peek) else 0
        policy = self.dtype_policy
        self.embedding = (
            keras.layers.Embedding(
                output_vocab_size, embedding_dim, name="target_embedding", dtype=policy
            )
            if self.token_mode
            else None
        )
        self.cells = [make_cell(cell, units, name=f"cell_{i}", dtype=policy) for i in range(depth)]
        self.attention_layer = (
            BahdanauAttention(attention_units or units, name="attention", dtype=policy)
            if attention
            else None
        )
        self.output_layer = keras.layers.Dense(
            output_dim,
            activation=None if self.token_mode else output_activation,
            name="output",
            dtype=policy,
        )
        self.dropout_layer = (
            keras.layers.Dropout(dropout, seed=seed, dtype=policy) if dropout else None
        )
        # Padding reaches the decoder inside `bundle["mask"]`; Keras' own mask is not needed.
        self.supports_masking = True

    def build(self, input_shape=None):
        if self.embedding is not None:
            self.embedding.build((None, None))
        self.cells[0].build((None, self.feature_dim + self.context_dim))
        for cell in self.cells[1:]:
            cell.build((None, self.units))
        if self.attention_layer is not None:
            self.attention_layer.build((None, self.units), (None, None, self.memory_dim))
        self.output_layer.build((None, self.units + (self.memory_dim if self.attention else 0)))
        self.built = True

    @property
    def readout_dim(self):
        return self.units + (self.memory_dim if self.attention else 0)

    def embed(self, ids):
        """Target embedding of token ids (token mode)."""
        return self.embedding(ids)

    def feedback(self, outputs):
        """The value fed back from a step's outputs: the output itself or its arg-max's embedding."""
        if self.token_mode:
            return self.embedding(ops.argmax(outputs, axis=-1))
        return outputs

    def start_features(self, bundle, batch_size):
        """The value fed to step 0."""
        if self.token_mode:
            return self.embedding(ops.full((batch_size,), START_ID, dtype="int32"))
        return bundle["start"]

    def project_features(self, features):
        """First-layer input projection of fed-back values, for one step or all steps."""
        cell = self.cells[0]
        kernel = ops.cast(cell.kernel, cell.compute_dtype)
        if self.context_dim:
            kernel = kernel[: self.feature_dim]
        product = fused.matmul(ops.cast(features, kernel.dtype), kernel, self.state_dtype)
        return product + ops.cast(cell.bias, self.state_dtype)

    def prepare(self, bundle, generation=False):
        """Adds what every step reuses to `bundle`: the attention keys, computed once per
        sequence, and the first layer's context kernel, sliced and cast to the compute
        dtype once outside the loop.

        With `generation=True` in token mode, also `feature_table`: the first layer's
        input projection of every target embedding, `(vocab, gates * units)`, which
        `token_step` gathers instead of a matrix multiply per step."""
        if self.attention and "keys" not in bundle:
            bundle = {**bundle, "keys": self.attention_layer.keys(bundle["memory"])}
        if self.context_dim and "context_kernel" not in bundle:
            cell = self.cells[0]
            kernel = ops.cast(cell.kernel, cell.compute_dtype)  # bfloat16 under a mixed policy
            bundle = {**bundle, "context_kernel": kernel[self.feature_dim :]}
        if generation and self.token_mode and "feature_table" not in bundle:
            bundle = {**bundle, "feature_table": self.project_features(self.embedding.embeddings)}
        return bundle

    def _sequence_mask(self, batch_size, width):
        """A dropout mask `(batch, width)` that every step of a sequence shares, in
        `state_dtype`: it multiplies states and readouts (TensorFlow multiplies no
        bfloat16 mask into a float32 value under `mixed_bfloat16`)."""
        ones = ops.ones((batch_size, width), dtype=self.compute_dtype)
        return ops.cast(self.dropout_layer(ones, training=True), self.state_dtype)

    def dropout_masks(self, batch_size, training):
        """One dropout mask per upper layer, shared by all steps of a sequence."""
        if not (training and self.dropout_layer is not None and self.depth > 1):
            return None
        return [self._sequence_mask(batch_size, self.units) for _ in range(self.depth - 1)]

    def readout_mask(self, batch_size, training):
        """Dropout mask of the readout before the output layer, one per sequence, or None."""
        if not (training and self.dropout_layer is not None):
            return None
        return self._sequence_mask(batch_size, self.readout_dim)

    def recurrent_step(
        self,
        projected,
        states,
        bundle,
        masks=None,
        kernels=None,
        training=False,
        features=None,
        input_kernel=None,
    ):
        """One step from the projected fed-back value. Returns `(readout, states, weights)`.

        `bundle` is prepared (`prepare`). `kernels`, if given, are the first layer's
        recurrent and (with a context) context kernels to use instead of the cells' own
        (see `_deferred_loop`). With `features` (the fed-back value) and `input_kernel`
        (the first layer's whole input kernel, in the compute dtype), `projected` holds
        the first layer's bias only, and the step multiplies `[features; context]` by
        `input_kernel` in one product (as `LSTMCell(cat(x, context))` does) rather than
        two.
        """
        context, weights = None, None
        if self.attention:
            # The layer's `call`, not `__call__`: an eager backend (PyTorch) runs this at
            # every step, and Keras' `__call__` (arguments bound and converted, masks and
            # scopes) cost about three times the attention's own operations there. The
            # attention casts its operands itself, so no autocast scope is needed.
            context, weights = self.attention_layer.call(
                states[0][0],
                bundle["keys"],
                bundle["memory"],
                bundle.get("mask"),
                training=training,
            )
        elif self.peek:
            context = bundle["context"]
        if features is not None:
            operand = ops.cast(features, input_kernel.dtype)
            if context is not None:
                operand = ops.concatenate([operand, ops.cast(context, input_kernel.dtype)], -1)
            product = fused.matmul(operand, input_kernel, self.state_dtype)
            projected = ops.cast(projected, self.state_dtype) + product
        elif context is not None:
            context_kernel = kernels[1] if kernels else bundle["context_kernel"]
            product = fused.matmul(
                ops.cast(context, context_kernel.dtype), context_kernel, self.state_dtype
            )
            projected = ops.cast(projected, self.state_dtype) + product
        new_states = []
        state = states[0]
        x = None
        for k, cell in enumerate(self.cells):
            if k > 0:
                inputs = x * masks[k - 1] if masks is not None else x
                projected = cell.project(inputs)
                if not self.inner_broadcast_state:
                    state = states[k]
            if k == 0 and kernels:
                x, state = cell.step(projected, state, recurrent_kernel=kernels[0])
            else:
                x, state = cell.step(projected, state)
            new_states.append(state)
        if self.inner_broadcast_state:
            new_states = [state]
        readout = ops.concatenate([x, context], axis=-1) if self.attention else x
        return readout, new_states, weights

    def step(self, features, states, bundle):
        """One decoding step from the fed-back value's features, for generation.

        Args:
            features: `(batch, feature_dim)`: `embed(ids)` in token mode.
            states: List over layers of lists of `(batch, units)` tensors.
            bundle: The prepared bundle (see `prepare`).

        Returns:
            `(outputs, new_states, weights)`: outputs (logits in token mode)
            `(batch, output_dim)`, weights `(batch, in_len)` or None.
        """
        return self._projected_step(self.project_features(features), states, bundle)

    def token_step(self, ids, states, bundle):
        """`step` from the fed-back token ids, for generation in token mode.

        `bundle` is prepared with `generation=True`: the projection of `embed(ids)` is a
        row of `feature_table` (the same values as `project_features(embed(ids))`).
        """
        return self._projected_step(ops.take(bundle["feature_table"], ids, axis=0), states, bundle)

    def _projected_step(self, projected, states, bundle):
        """`step` from the first layer's projected input: `(outputs, new_states, weights)`."""
        readout, states, weights = self.recurrent_step(projected, states, bundle)
        return self._outputs(readout), states, weights

    def _outputs(self, readout):
        """The output layer on readouts (a generation step's, or the teacher-forced
        loop's `(batch, out_len, readout_dim)`), in `state_dtype`: `fused.dense`, so under
        `mixed_bfloat16` the logits are not rounded to bfloat16. The free-running loop
        calls the output layer itself (see `call`)."""
        return fused.dense(self.output_layer, readout, self.state_dtype)

    def _free_outputs(self, readout):
        """The output layer in a free-running step, in the layer's compute dtype.

        Under a mixed policy, the layer itself: bfloat16 outputs, which a token model's
        softmax reads in float32 (a oneDNN product per step, as `_outputs` would take on
        JAX, measured slower here: docs/benchmarks.md). Otherwise `fused.dense`, the
        same numbers without Keras' `__call__` around them, which an eager backend
        (PyTorch) runs at every step for several times the layer's own operations.
        """
        layer = self.output_layer
        if layer.compute_dtype != layer.variable_dtype:
            return layer(readout)
        return fused.dense(layer, readout, layer.compute_dtype)

    def _deferred_loop(self, step_body, init, projected, bundle, unroll, input_kernel=None):
        """The step loop with the first layer's kernels' gradients after it
        (`fused.scan_deferring_kernels`); raises `NotImplementedError` where it does not
        apply.

        `step_body(carry, z_t, kernels)` adds `z_t` to the first layer's projected input
        and returns `(carry, (h_before, operand))`: the teacher-forced loop scans the
        projected teacher, its second kernel the context's (operand the context); the
        free-running one zeros, its second kernel `input_kernel`, the first layer's
        whole input kernel (operand `[features; context]`). The recurrent kernel's
        product must add to the projected input, as an LSTM's does (a GRU's reset gate
        multiplies part of it); a peeked context has no kernel operand here.
        """
        cell = self.cells[0]
        if self.peek or cell.recurrence != "lstm":
            raise NotImplementedError
        kernels = [ops.cast(cell.recurrent_kernel, cell.compute_dtype)]
        if input_kernel is not None:
            kernels.append(input_kernel)
        elif self.attention:
            kernels.append(bundle["context_kernel"])

        def body(kernels, carry, z_t):
            carry, (h_before, operand) = step_body(carry, z_t, kernels)
            operands = (h_before,) if operand is None else (h_before, operand)
            return carry, carry, operands

        return fused.scan_deferring_kernels(body, init, projected, tuple(kernels), unroll)

    def _teacher_loop(
        self, projected, initial_states, bundle, masks, zero_weights, unroll, training
    ):
        """The teacher-forced step loop: `(readouts, weights)`, readouts
        `(batch, out_len, readout_dim)`, weights time-major."""
        batch_size = ops.shape(zero_weights)[0]
        zero_readout = ops.zeros((batch_size, self.readout_dim), dtype=self.state_dtype)

        def teacher_body(carry, z_t, kernels=None):
            states, _, _ = carry
            readout, new_states, weights = self.recurrent_step(
                z_t, states, bundle, masks, kernels, training
            )
            carry = (new_states, readout, weights if weights is not None else zero_weights)
            operands = (states[0][0], readout[..., self.units :] if self.attention else None)
            return carry, operands

        init = (initial_states, zero_readout, zero_weights)
        try:
            _, (_, readouts, weights) = self._deferred_loop(
                teacher_body, init, projected, bundle, unroll
            )
        except NotImplementedError:

            def body(carry, z_t):
                carry, _ = teacher_body(carry, z_t)
                return carry, carry

            _, (_, readouts, weights) = fused.scan(body, init, projected, unroll=unroll)
        return ops.transpose(readouts, (1, 0, 2)), weights  # (batch, out_len, readout_dim)

    def _feedback_is_linear(self, length):
        """Whether free running is one LSTM: real values fed back through a linear output
        (`fused_decoding.linear_feedback`)."""
        return (
            isinstance(length, int)
            and length > 1
            and not self.token_mode
            and not self.attention
            and self.depth == 1
            and self.output_layer.activation is keras.activations.linear
            and self.cells[0].recurrence == "lstm"
        )

    @property
    def state_dtype(self):
        """The dtype of what the loop carries: states, readouts, attention weights
        (float32 under `mixed_bfloat16`; see `ProjectedCell.state_dtype`)."""
        return self.dtype_policy.variable_dtype

    def _zero_weights(self, bundle, batch_size):
        if not self.attention:
            return ops.zeros((batch_size, 1), dtype=self.state_dtype)
        return ops.zeros_like(bundle["memory"][..., 0], dtype=self.state_dtype)

    def call(
        self, bundle, initial_states, length=None, targets=None, sample_mask=None, training=False
    ):
        bundle = self.prepare(bundle)
        # Keras casts a layer's inputs to its compute dtype; the loop carries states in
        # `state_dtype`.
        initial_states = [
            [ops.cast(state, self.state_dtype) for state in layer] for layer in initial_states
        ]
        batch_size = ops.shape(initial_states[0][0])[0]
        masks = self.dropout_masks(batch_size, training)
        readout_mask = self.readout_mask(batch_size, training)
        zero_weights = self._zero_weights(bundle, batch_size)
        start = self.start_features(bundle, batch_size)
        unroll = length if self.unroll is True and length else 1
        teacher = None
        if targets is not None:
            if self.token_mode:
                shifted = ops.concatenate(
                    [ops.full((batch_size, 1), START_ID, dtype=targets.dtype), targets[:, :-1]],
                    axis=1,
                )
                teacher = self.embedding(shifted)
            else:
                teacher = ops.concatenate([ops.expand_dims(start, 1), targets[:, :-1]], axis=1)
            teacher = ops.transpose(teacher, (1, 0, 2))  # (out_len, batch, feature_dim)
            length = targets.shape[1]
            unroll = length if self.unroll is True and length else 1

        if teacher is None and readout_mask is None and self._feedback_is_linear(length):
            try:
                outputs = fused_decoding.linear_feedback(
                    self, bundle, initial_states, length, start
                )
                return {"outputs": outputs, "attention": None}
            except NotImplementedError:
                pass  # the step loop below
        if teacher is not None and sample_mask is None:
            projected = self.project_features(teacher)
            try:
                readouts = fused_decoding.teacher_readouts(
                    self, teacher, projected, initial_states, bundle, masks
                )
            except NotImplementedError:
                readouts, weights = self._teacher_loop(
                    projected, initial_states, bundle, masks, zero_weights, unroll, training
                )
            if readout_mask is not None:
                readouts = readouts * ops.expand_dims(readout_mask, 1)
            outputs = self._outputs(readouts)
        else:
            zero_outputs = ops.zeros((batch_size, self.output_dim), dtype=self.compute_dtype)
            # The first layer's input product, `[features; context] @ kernel`, is one
            # product a step (see `recurrent_step`).
            first = self.cells[0]
            input_kernel = ops.cast(first.kernel, first.compute_dtype)
            first_bias = ops.cast(first.bias, self.state_dtype)

            def free_step(carry, xs, z_t=None, kernels=None):
                states, features, _, _ = carry
                if xs is not None:
                    teacher_t, use_own_t = xs[..., : self.feature_dim], xs[..., self.feature_dim :]
                    features = use_own_t * features + (1.0 - use_own_t) * teacher_t
                projected = first_bias if z_t is None else z_t + first_bias
                readout, new_states, weights = self.recurrent_step(
                    projected,
                    states,
                    bundle,
                    masks,
                    kernels,
                    training,
                    features=features,
                    input_kernel=kernels[1] if kernels else input_kernel,
                )
                outputs = self._free_outputs(
                    readout if readout_mask is None else readout * readout_mask
                )
                carry = (
                    new_states,
                    self.feedback(outputs),
                    outputs,
                    weights if weights is not None else zero_weights,
                )
                if kernels is None:
                    return carry, None
                # The deferred loop's operands: `h` before the step, and `[features; context]`.
                operand = ops.cast(features, self.state_dtype)
                if self.attention:
                    operand = ops.concatenate([operand, readout[..., self.units :]], axis=-1)
                return carry, (states[0][0], operand)

            def free_body(carry, xs):
                carry, _ = free_step(carry, xs)
                return carry, carry

            # One scanned tensor (features, then the choice): Keras' TensorFlow scan fails
            # on several scanned tensors of unknown length.
            xs = (
                ops.concatenate([teacher, ops.cast(sample_mask, teacher.dtype)], axis=-1)
                if teacher is not None
                else None
            )
            init = (initial_states, start, zero_outputs, zero_weights)
            try:
                if xs is not None or not isinstance(length, int):
                    raise NotImplementedError
                # The kernels' products add to zeros scanned as the projected input.
                gates = self.cells[0].gates * self.units
                zeros = ops.zeros((length, batch_size, gates), dtype=self.state_dtype)
                _, (_, _, outputs, weights) = self._deferred_loop(
                    lambda carry, z_t, kernels: free_step(carry, None, z_t, kernels),
                    init,
                    zeros,
                    bundle,
                    unroll,
                    input_kernel,
                )
            except NotImplementedError:
                _, (_, _, outputs, weights) = fused.scan(
                    free_body, init, xs, length=length, unroll=unroll
                )
            # In `state_dtype`, as the other paths' outputs: float32 under a mixed policy
            # (the steps' bfloat16 values cast up, as Keras' float32 softmax reads them).
            outputs = ops.cast(ops.transpose(outputs, (1, 0, 2)), self.state_dtype)
        attention = ops.transpose(weights, (1, 0, 2)) if self.attention else None
        return {"outputs": outputs, "attention": attention}

    def get_config(self):
        config = {
            "units": self.units,
            "output_dim": self.output_dim,
            "depth": self.depth,
            "cell": self.cell,
            "output_activation": self.output_activation,
            "output_vocab_size": self.output_vocab_size,
            "embedding_dim": self.embedding_dim,
            "feedback_dim": self.feedback_dim,
            "memory_dim": self.memory_dim,
            "attention": self.attention,
            "attention_units": self.attention_units,
            "peek": self.peek,
            "inner_broadcast_state": self.inner_broadcast_state,
            "dropout": self.dropout,
            "seed": self.seed,
            "unroll": self.unroll,
        }
        return {**super().get_config(), **config}
