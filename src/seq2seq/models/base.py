"""What the three seq2seq models share: arguments, inputs, modes, inference helpers."""

import keras
import numpy as np
from keras import ops

from seq2seq import arguments, decoding
from seq2seq.conventions import PAD_ID
from seq2seq.data import (
    subword_vocabulary,  # noqa: F401  (registers `SubwordVocabulary`)
    vocabulary,  # noqa: F401  (registers `Vocabulary`, which configs name)
)
from seq2seq.layers.bridge import Bridge
from seq2seq.layers.cell_factory import check_cell_name
from seq2seq.layers.decoder import Decoder
from seq2seq.layers.encoder import Encoder
from seq2seq.layers.recurrent import Recurrent


class Seq2SeqModel(keras.Model):
    """Base class of `SimpleSeq2Seq`, `Seq2Seq` and `AttentionSeq2Seq`.

    Subclasses create their layers in `_make_layers()` and run them in
    `_forward(x, targets, training, sample_mask)`. This class resolves the input
    shape, validates arguments and data, chooses between free running, teacher forcing
    and scheduled sampling, and offers `encode`, `predict_attention` and `generate`.

    Token mode is on when `output_vocab_size` is given: the model ends in a softmax over
    the output vocabulary (or returns logits with `logits=True`), the default loss
    ignores padding (`PAD_ID`, 0), and `teacher_force` defaults to True. Real-valued mode
    keeps the original library's defaults.

    Generation contract: the public interface that step-wise decoding uses (the samplers
    of `seq2seq.decoding`, an exported decoder), after keras-hub's `next(...)` and cache.
    No code outside the model needs its layers or private methods.

    - `generation_cache(x)`: the cache of a batch of token inputs, a dict of
      `states` (per-row tensors each step updates; beam search gathers them),
      `constants` (per-row tensors every step reads unchanged; beam search tiles them
      once per beam) and `shared` (tensors without a batch axis; never tiled).
    - `generation_step(previous_ids, cache, index)`: the logits of step `index` from
      the ids chosen at the previous step (`START_ID` at step 0), as
      `(logits, cache, attention_weights_or_None)`.
    - `generation_outputs(x, length)`: free-running outputs of `length` steps (the
      real-valued counterpart, also the `predict` path of token models).
    - `max_generation_length`: the most steps a model can generate (None: any).
    - `has_attention`: whether steps return attention weights `(batch, in_len)`.
    """

    uses_feedback = True
    has_attention = False

    def __init__(
        self,
        output_dim=None,
        output_length=None,
        hidden_dim=None,
        input_shape=None,
        batch_size=None,
        batch_input_shape=None,
        input_dim=None,
        input_length=None,
        depth=1,
        dropout=0.0,
        unroll=False,
        stateful=False,
        cell="lstm",
        output_activation="linear",
        teacher_force=None,
        scheduled_sampling=False,
        input_vocab_size=None,
        output_vocab_size=None,
        embedding_dim=None,
        logits=False,
        source_vocabulary=None,
        target_vocabulary=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.token_input = input_vocab_size is not None
        self.token_mode = output_vocab_size is not None
        arguments.check_positive("input_vocab_size", input_vocab_size, allow_none=True)
        arguments.check_positive("output_vocab_size", output_vocab_size, allow_none=True)
        if self.token_mode and output_dim is not None and output_dim != output_vocab_size:
            raise ValueError(
                "Invalid value for argument `output_dim`. Expected None or `output_vocab_size` "
                f"({output_vocab_size}) in token mode. Received: output_dim={output_dim!r}"
            )
        output_dim = output_vocab_size if self.token_mode else output_dim
        self.output_dim = arguments.check_positive("output_dim", output_dim)
        self.output_length = arguments.check_positive("output_length", output_length)
        # `is None`, not `or`: a zero size is a mistake to report, not a request for the default.
        arguments.check_positive("embedding_dim", embedding_dim, allow_none=True)
        if hidden_dim is None:
            hidden_dim_or_default = (embedding_dim or 64) if self.token_mode else output_dim
        else:
            hidden_dim_or_default = hidden_dim
        self.hidden_dim = arguments.check_positive("hidden_dim", hidden_dim_or_default)
        uses_embedding = self.token_mode or self.token_input
        self.embedding_dim = (
            self.hidden_dim if embedding_dim is None and uses_embedding else embedding_dim
        )
        self.input_vocab_size = input_vocab_size
        self.output_vocab_size = output_vocab_size
        self.encoder_depth, self.decoder_depth = arguments.check_depth(depth)
        # A pair becomes a tuple, so the config is the same after a JSON round trip (a list).
        depth = depth if isinstance(depth, int) else (self.encoder_depth, self.decoder_depth)
        self.depth = depth
        self.dropout = arguments.check_rate("dropout", dropout)
        self.unroll = unroll
        self.stateful = stateful
        self.cell = check_cell_name(cell)
        self.output_activation = output_activation
        keras.activations.get(output_activation)
        self.logits = logits
        self.teacher_force = self.token_mode if teacher_force is None else bool(teacher_force)
        self.scheduled_sampling = bool(scheduled_sampling)
        self.source_vocabulary = _deserialize(source_vocabulary)
        self.target_vocabulary = _deserialize(target_vocabulary)
        self.seed = seed
        self.full_input_shape = arguments.resolve_input_shape(
            batch_input_shape,
            input_shape,
            batch_size,
            input_dim,
            input_length,
            token_mode=self.token_input,
        )
        self.batch_size = self.full_input_shape[0]
        self.input_length = self.full_input_shape[1]
        self.input_dim = None if self.token_input else self.full_input_shape[2]
        if stateful and not self.batch_size:
            raise ValueError(
                "Invalid value for argument `batch_size`. Expected a fixed batch size (through `batch_size` "
                f"or `batch_input_shape`) when `stateful=True`. Received: batch_size={self.batch_size!r}"
            )
        self._config = {
            "output_dim": None if self.token_mode else output_dim,
            "output_length": output_length,
            "hidden_dim": hidden_dim,
            "batch_input_shape": self.full_input_shape,
            "depth": depth,
            "dropout": dropout,
            "unroll": unroll,
            "stateful": stateful,
            "cell": self.cell,
            "output_activation": output_activation,
            "teacher_force": teacher_force,
            "scheduled_sampling": scheduled_sampling,
            "input_vocab_size": input_vocab_size,
            "output_vocab_size": output_vocab_size,
            "embedding_dim": embedding_dim,
            "logits": logits,
            "seed": seed,
        }
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Every layer is made with `dtype=self.dtype_policy` (`mixed_bfloat16` included),
        # whatever the global policy: a model loaded from its file keeps the policy it was
        # built with.
        self._make_layers()
        self.build(self.full_input_shape)

    # Subclass hooks -------------------------------------------------------------------

    def _make_layers(self):
        raise NotImplementedError

    def _forward(self, x, targets, training, sample_mask):
        raise NotImplementedError

    # Keras API ---------------------------------------------------------------------------

    def build(self, input_shape=None):
        if self.built:
            return
        self._build_layers(self.full_input_shape)
        self.sampling_probability = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="sampling_probability"
        )
        self.built = True

    def call(self, inputs, training=False):
        x, targets = self._split_inputs(inputs)
        self._check_input_tensor(x)
        if not training and targets is not None:
            return self._finish(self._free_running_like(x, targets))
        use_targets = (
            training and targets is not None and (self.teacher_force or self.scheduled_sampling)
        )
        targets = targets if use_targets and self.uses_feedback else None
        sample_mask = None
        if targets is not None and self.scheduled_sampling:
            shape = (targets.shape[1], ops.shape(targets)[0], 1)
            draws = keras.random.uniform(shape, seed=self.seed_generator)
            sample_mask = ops.cast(
                draws < ops.cast(self.sampling_probability, draws.dtype), "float32"
            )
        result = self._forward(x, targets, training, sample_mask)
        return self._finish(result["outputs"])

    def _free_running_like(self, x, targets):
        """Free-running outputs as long as `targets`: what `evaluate` scores in batches whose
        targets are cut to their own length (`LengthBuckets`, a run's validation).

        The decoder runs that many steps when the length is known when tracing, else
        `output_length` steps cut to it; a step's output does not depend on later ones,
        so the steps run are those of a full-length decode.
        """
        steps = targets.shape[1]
        if isinstance(steps, int):
            return self.generation_outputs(x, steps)["outputs"]
        outputs = self.generation_outputs(x, self.output_length)["outputs"]
        return outputs[:, : ops.shape(targets)[1]]

    def _finish(self, outputs):
        if self.token_mode and not self.logits:
            # In the variables' dtype: bfloat16 probabilities (8 bits) would round the
            # loss's gradient, `p - target`, by up to 0.4 % of `p` (mixed_bfloat16).
            return ops.softmax(ops.cast(outputs, self.dtype_policy.variable_dtype), axis=-1)
        return outputs

    def compile(self, optimizer="rmsprop", loss=None, jit_compile="auto", **kwargs):
        """`keras.Model.compile`; in token mode the default loss ignores padding (`PAD_ID`).

        On TensorFlow `jit_compile="auto"` means no XLA, where Keras would pick it (a
        GPU). `jit_compile=True` trains XLA-compiled (the layers' loops, `fused.scan`,
        are ones XLA differentiates), up to 1.4 times as fast on a CPU but spread
        widely (docs/benchmarks.md); it is not the default because TensorFlow keeps every
        XLA-compiled function for the life of the process, about 170 memory maps each,
        and a process that compiles a few hundred models reaches the kernel's limit on
        maps (65,530 by default) and crashes.

        On PyTorch `jit_compile=True` is `torch.compile`: 1.0-1.4 times hand-written
        PyTorch's speed at hidden 256 for every model but one row of one run (0.98x),
        where eager ran 0.65-1.6 times, after a first step of one to four minutes
        (docs/benchmarks.md); eager stays the default. `seq2seq train --jit-compile`
        asks for it from the command line.
        """
        if loss is None and self.token_mode:
            loss = keras.losses.SparseCategoricalCrossentropy(
                from_logits=self.logits, ignore_class=PAD_ID
            )
        if jit_compile == "auto" and keras.backend.backend() == "tensorflow":
            jit_compile = False
        super().compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config):
        """Compiles a loaded model as it was saved, on any backend.

        Keras skips this step for models that override `compile`, which left a loaded
        model marked compiled but without optimizer or loss. The config is made
        portable first (see `_portable_compile_config`).
        """
        self.compile(**keras.saving.deserialize_keras_object(_portable_compile_config(config)))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`. A teacher-forced model given `fit(x, y)` trains on `([x, y], y)`."""
        x_part = x[0] if isinstance(x, (list, tuple)) else x
        self.check_data(x_part, y)
        if (
            (self.teacher_force or self.scheduled_sampling)
            and y is not None
            and not isinstance(x, (list, tuple))
        ):
            x = [x, y]
        return super().fit(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """`keras.Model.predict`; runs free (own outputs fed back). Targets given in `[x, y]` are ignored."""
        x = x[0] if isinstance(x, (list, tuple)) else x
        self.check_data(x)
        return super().predict(x, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.evaluate`; runs free, so it needs no targets as inputs."""
        x = x[0] if isinstance(x, (list, tuple)) else x
        self.check_data(x, y)
        return super().evaluate(x, y, *args, **kwargs)

    def reset_states(self):
        """Zeros the carried states of a stateful model."""
        for layer in self._flatten_layers(include_self=False):
            if isinstance(layer, Recurrent):
                layer.reset_states()

    # Inputs and checks -------------------------------------------------------------------

    def _split_inputs(self, inputs):
        if isinstance(inputs, dict):
            return inputs["x"], inputs.get("y")
        if isinstance(inputs, (list, tuple)):
            if len(inputs) == 1:
                return inputs[0], None
            if len(inputs) == 2:
                return inputs[0], inputs[1]
            raise ValueError(
                f"Invalid model inputs. Expected `x` or `[x, y]`. Received a sequence of {len(inputs)} inputs."
            )
        return inputs, None

    def _check_input_tensor(self, x):
        shape = tuple(x.shape)
        rank = 2 if self.token_input else 3
        if len(shape) != rank:
            expected = (
                "(batch, time) token ids"
                if self.token_input
                else f"(batch, time, {self.input_dim})"
            )
            raise ValueError(
                f"Invalid input `x`. Expected a rank-{rank} array {expected}. Received shape {shape}."
            )
        if not self.token_input and shape[-1] is not None and shape[-1] != self.input_dim:
            raise ValueError(
                f"Invalid input `x`. Expected feature size {self.input_dim} (input_dim). "
                f"Received shape {shape} with feature size {shape[-1]}."
            )

    def check_data(self, x, y=None):
        """Checks array data before Keras sees it: rank, feature size, dtype, token id range,
        finite values, non-empty, `y`'s time steps (`output_length`) and matching row counts."""
        if isinstance(x, np.ndarray):
            self._check_input_tensor(x)
            if self.token_input:
                _check_ids("input", "x", x, self.input_vocab_size, "input_vocab_size")
            else:
                _check_values("input", "x", x)
            if len(x) == 0:
                raise ValueError(
                    f"Invalid input `x`. Expected a non-empty batch. Received shape {x.shape}."
                )
        if isinstance(y, np.ndarray):
            if self.token_mode:
                if y.ndim != 2:
                    raise ValueError(
                        f"Invalid targets `y`. Expected a rank-2 array (batch, time) of token ids. Received shape {y.shape}."
                    )
                _check_ids("targets", "y", y, self.output_vocab_size, "output_vocab_size")
            else:
                if y.ndim != 3 or y.shape[-1] != self.output_dim:
                    raise ValueError(
                        f"Invalid targets `y`. Expected shape (batch, time, {self.output_dim}). Received shape {y.shape}."
                    )
                _check_values("targets", "y", y)
            if y.shape[1] != self.output_length:
                raise ValueError(
                    f"Invalid targets `y`. Expected {self.output_length} time steps "
                    f"(output_length={self.output_length}). Received shape {y.shape} with "
                    f"{y.shape[1]} time steps."
                )
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and len(x) != len(y):
            raise ValueError(
                "Invalid inputs `x` and `y`. Expected the same number of rows (samples). "
                f"Received {len(x)} rows in `x` and {len(y)} in `y`."
            )

    # Layer construction shared by the models ----------------------------------------------

    def _make_encoder(self, bidirectional=False, merge_mode="concat"):
        return Encoder(
            self.hidden_dim,
            depth=self.encoder_depth,
            cell=self.cell,
            bidirectional=bidirectional,
            merge_mode=merge_mode,
            dropout=self.dropout,
            seed=self.seed,
            input_vocab_size=self.input_vocab_size,
            embedding_dim=self.embedding_dim,
            stateful=self.stateful,
            batch_size=self.batch_size,
            unroll=self.unroll,
            name="encoder",
            dtype=self.dtype_policy,
        )

    def _make_feedback_layers(
        self, attention, broadcast_state=True, project_states=False, single_state=False, peek=False
    ):
        """Encoder-to-decoder bridge, start value and feedback decoder (`self.encoder` first)."""
        self.bridge = (
            Bridge(
                self.hidden_dim,
                encoder_depth=self.encoder_depth,
                decoder_depth=self.decoder_depth,
                num_states=2 if self.cell == "lstm" else 1,
                encoder_dim=self.encoder.output_dim,
                project=project_states,
                single_state=single_state,
                name="bridge",
                dtype=self.dtype_policy,
            )
            if broadcast_state
            else None
        )
        self.start_layer = (
            None
            if self.token_mode
            else keras.layers.Dense(self.output_dim, name="context", dtype=self.dtype_policy)
        )
        self.decoder = Decoder(
            self.hidden_dim,
            output_dim=self.output_dim,
            depth=self.decoder_depth,
            cell=self.cell,
            output_activation=self.output_activation,
            output_vocab_size=self.output_vocab_size,
            embedding_dim=self.embedding_dim,
            feedback_dim=self.output_dim,
            memory_dim=self.encoder.output_dim,
            attention=attention,
            peek=peek,
            inner_broadcast_state=single_state,
            dropout=self.dropout,
            seed=None if self.seed is None else self.seed + 1,
            unroll=self.unroll,
            name="decoder",
            dtype=self.dtype_policy,
        )

    def _build_layers(self, input_shape):
        """Builds the encoder and the feedback layers; `SimpleSeq2Seq` overrides it."""
        self.encoder.build(input_shape)
        if self.bridge is not None:
            self.bridge.build()
        if self.start_layer is not None:
            self.start_layer.build((None, self.encoder.output_dim))
        self.decoder.build()

    # Feedback models (Seq2Seq, AttentionSeq2Seq) ----------------------------------------

    def _bundle(self, encoded):
        """What the decoder reads from the encoder: context, memory, mask and start value."""
        bundle = {"context": encoded["last"], "memory": encoded["outputs"], "mask": encoded["mask"]}
        if not self.token_mode:
            bundle["start"] = self.start_layer(encoded["last"])
        return bundle

    def _initial_states(self, encoded):
        if self.bridge is None:
            batch = ops.shape(encoded["last"])[0]
            zeros = ops.zeros((batch, self.hidden_dim), dtype=self.compute_dtype)
            layers = 1 if self.decoder.inner_broadcast_state else self.decoder_depth
            return [[zeros] * len(self.decoder.cells[0].state_size) for _ in range(layers)]
        return self.bridge(encoded["states"])

    def _forward(self, x, targets, training, sample_mask):
        encoded = self.encoder(x, training=training)
        return self.decoder(
            self._bundle(encoded),
            self._initial_states(encoded),
            length=self.output_length,
            targets=targets,
            sample_mask=sample_mask,
            training=training,
        )

    # Generation contract (see the class docstring) ----------------------------------------

    @property
    def max_generation_length(self):
        """The most steps `generation_step` can take: None (any number) for the models
        that feed their outputs back; `SimpleSeq2Seq` overrides it."""
        return None

    def generation_cache(self, x):
        """The decoding cache of a batch of token inputs: what every step reads.

        Runs the encoder once and precomputes what every step reuses (attention keys,
        the first decoder layer's input projection of every target embedding).

        Args:
            x: Token ids `(batch, time)` (0 = padding) or real values
                `(batch, time, input_dim)`, a backend tensor.

        Returns:
            Dict of `states` (list over decoder layers of lists of `(batch, units)`
            tensors, updated by each step), `constants` (dict of `(batch, ...)`
            tensors: encoder memory, context, attention keys, mask) and `shared` (dict
            of tensors without a batch axis). Beam search tiles `states` and
            `constants` to `batch * beam_width` rows and never `shared`.

        Example:
        >>> import numpy as np
        >>> from keras import ops
        >>> from seq2seq.conventions import START_ID
        >>> from seq2seq.models import Seq2Seq
        >>> model = Seq2Seq(input_vocab_size=8, output_vocab_size=8, input_length=None,
        ...                 output_length=5, hidden_dim=8)
        >>> cache = model.generation_cache(ops.convert_to_tensor(np.array([[4, 5, 2]])))
        >>> previous = ops.full((1,), START_ID, dtype="int32")
        >>> logits, cache, weights = model.generation_step(previous, cache, 0)
        >>> tuple(logits.shape), weights is None
        ((1, 8), True)
        """
        self._check_token_generation("generation_cache")
        encoded = self.encoder(x, training=False)
        bundle = self.decoder.prepare(self._bundle(encoded), generation=True)
        shared = {name: bundle[name] for name in self.decoder.shared_keys if name in bundle}
        constants = {
            name: value
            for name, value in bundle.items()
            if value is not None and name not in shared
        }
        return {
            "states": _as_lists(self._initial_states(encoded)),
            "constants": constants,
            "shared": shared,
        }

    def generation_step(self, previous_ids, cache, index):
        """One decoding step: the logits that follow `previous_ids`.

        Args:
            previous_ids: `(batch,)` int32, the ids chosen at the previous step
                (`START_ID` at step 0).
            cache: A cache from `generation_cache` (or this method), its `states` and
                `constants` tiled or gathered row by row as the caller needs.
            index: Scalar int32, the step's position (0 first).

        Returns:
            `(logits, cache, weights)`: logits `(batch, output_vocab_size)`, the cache
            with the new `states` (same structure; `constants` and `shared` as given),
            attention weights `(batch, in_len)` or None.
        """
        logits, states, weights = self.decoder.token_step(
            previous_ids, cache["states"], {**cache["constants"], **cache["shared"]}
        )
        return logits, {**cache, "states": _as_lists(states)}, weights

    def generation_outputs(self, x, length):
        """The free-running outputs of `length` steps, each step fed the previous output.

        Args:
            x: Inputs of one batch, a backend tensor.
            length: Int, steps to run (at most `max_generation_length` when set).

        Returns:
            Dict of `outputs` `(batch, length, output_dim)` (logits in token mode) and
            `attention` `(batch, length, in_len)` or None.
        """
        encoded = self.encoder(x, training=False)
        return self.decoder(self._bundle(encoded), self._initial_states(encoded), length=length)

    def _check_token_generation(self, name):
        if not self.token_mode:
            raise ValueError(
                f"Invalid call of `{name}`. Expected a token model (`output_vocab_size` "
                "given): step-wise decoding chooses token ids. Received a real-valued model "
                "(output_vocab_size=None); use `generation_outputs`."
            )

    # Inference helpers -------------------------------------------------------------------

    def encode(self, x):
        """Runs the encoder. Returns a dict of numpy arrays: `outputs` (every step) and `context`."""
        self.check_data(np.asarray(x))
        encoded = self.encoder(ops.convert_to_tensor(x), training=False)
        return {
            "outputs": ops.convert_to_numpy(encoded["outputs"]),
            "context": ops.convert_to_numpy(encoded["last"]),
        }

    def generate(
        self,
        x,
        strategy="greedy",
        beam_width=5,
        length_penalty=0.0,
        max_length=None,
        temperature=1.0,
        top_k=None,
        top_p=None,
        seed=None,
        batch_size=256,
        return_text=False,
        return_all_beams=False,
    ):
        """Generates output sequences in one call (see `seq2seq.decoding`).

        Token models run the encoder once per batch, then one compiled loop of decoder
        steps (feeding each chosen token back) that stops every sequence at its end id
        (or `max_length`) and pads after it. `SimpleSeq2Seq` has no feedback: its steps
        are independent, so the strategies choose among its per-step distributions.
        Real-valued models return the free-running prediction.

        Args:
            x: Token ids `(batch, time)` (0 = padding) or `(batch, time, input_dim)`.
            strategy: `"greedy"`, `"beam"` or `"random"`.
            beam_width: Beams kept per input (beam search).
            length_penalty: Exponent `alpha` of the GNMT normalisation
                `log_prob / ((5 + length) / 6) ** alpha` (beam search).
            max_length: Steps at most (default `output_length`).
            temperature: Divides the logits (random sampling).
            top_k: Sample among the `top_k` most probable tokens (random sampling).
            top_p: Nucleus mass in (0, 1] (random sampling).
            seed: Seed of random sampling; the same seed gives the same output.
            batch_size: Inputs decoded together.
            return_text: Also decode the ids to strings with `target_vocabulary`.
            return_all_beams: Also return every beam, best first (beam search).

        Returns:
            Dict of numpy arrays: `ids` `(batch, max_length)` int32, `log_probs`
            `(batch,)` (sum of the emitted tokens' log-probabilities, end included),
            `attention` `(batch, max_length, in_len)` for attention models, `scores`
            for beam search, `text` with `return_text`. Real-valued models:
            `outputs` `(batch, max_length, output_dim)` (and `attention`).

        Example:
        >>> import numpy as np
        >>> from seq2seq.models import AttentionSeq2Seq
        >>> model = AttentionSeq2Seq(input_vocab_size=10, output_vocab_size=10,
        ...                          input_length=None, output_length=7, hidden_dim=8)
        >>> out = model.generate(np.array([[4, 5, 6, 2, 0]]), strategy="beam", beam_width=3)
        >>> out["ids"].shape, out["attention"].shape
        ((1, 7), (1, 7, 5))
        """
        return decoding.generate(
            self,
            x,
            strategy=strategy,
            beam_width=beam_width,
            length_penalty=length_penalty,
            max_length=max_length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            batch_size=batch_size,
            return_text=return_text,
            return_all_beams=return_all_beams,
        )

    def get_config(self):
        config = dict(self._config)
        config["source_vocabulary"] = _serialize(self.source_vocabulary)
        config["target_vocabulary"] = _serialize(self.target_vocabulary)
        return {**super().get_config(), **config}


def _as_lists(states):
    """Decoder states as a list over layers of lists of tensors: a loop carry's fixed structure."""
    return [list(layer) for layer in states]


def _check_ids(kind, name, ids, vocab_size, vocab_name):
    """Token ids of input or targets `name`: integers in [0, vocab_size)."""
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(
            f"Invalid {kind} `{name}`. Expected integer token ids. Received dtype {ids.dtype}."
        )
    if ids.size == 0:
        return
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        row = int(np.argwhere(ids == bad)[0][0])
        raise ValueError(
            f"Invalid {kind} `{name}`. Expected token ids in [0, {vocab_size}) ({vocab_name}={vocab_size}). "
            f"Received id {bad} in row {row}."
        )


def _check_values(kind, name, values):
    """Real-valued input or targets `name`: numbers, all finite (the first bad row is named)."""
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise TypeError(
            f"Invalid {kind} `{name}`. Expected an array of numbers. Received dtype {values.dtype}."
        )
    if not np.issubdtype(values.dtype, np.inexact):
        return
    finite = np.isfinite(values)
    if finite.all():
        return
    position = tuple(np.argwhere(~finite)[0])
    value = float(np.real(values[position]))
    shown = "NaN" if np.isnan(value) else repr(value)
    raise ValueError(
        f"Invalid {kind} `{name}`. Expected finite values. Received {shown} in row {position[0]}."
    )


def _serialize(obj):
    return None if obj is None else keras.saving.serialize_keras_object(obj)


def _deserialize(obj):
    return keras.saving.deserialize_keras_object(obj) if isinstance(obj, dict) else obj


def _portable_compile_config(config):
    """A saved compile config without what belongs to the backend that saved it.

    The saved `jit_compile` is the value that backend resolved (XLA on JAX, none on
    TensorFlow and PyTorch), so it is `"auto"` again, resolved by the backend that
    loads the model (call `compile` to choose otherwise). On PyTorch Keras saves the
    optimizer under its backend class (`keras.src.backend.torch.optimizers.torch_adam.Adam`), which
    another backend would import and fail to run; it becomes the public class.
    """
    config = {**config, "jit_compile": "auto"}
    optimizer = config.get("optimizer")
    if (
        isinstance(optimizer, dict)
        and str(optimizer.get("module")).startswith("keras.src.backend.")
        and isinstance(getattr(keras.optimizers, str(optimizer.get("class_name")), None), type)
    ):
        config["optimizer"] = {**optimizer, "module": "keras.optimizers", "registered_name": None}
    return config
