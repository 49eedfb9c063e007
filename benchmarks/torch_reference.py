"""Native PyTorch reference implementations of the four seq2seq architectures.

These mirror the library's models layer for layer so that throughput can be compared
on equal terms, written as a speed-minded PyTorch engineer writes them:

* ``simple``: LSTM encoder (F->H), last output -> Linear(H, H) + ReLU -> repeated over the
  output steps -> LSTM decoder (H->H) returning sequences -> Linear(H, F) over all steps.
* ``seq2seq``: LSTM encoder (F->H); context ``C = Linear(H, F)(last output)``; an
  ``LSTMCell(F->H)`` started from the encoder's final ``(h, c)`` runs free: step 0 reads
  ``C``, step t reads the previous step's output ``y_{t-1} = Linear(H, F)(h_{t-1})``.
* ``attention``: token model with Bahdanau (additive) attention, bidirectional LSTM
  encoder (directions concatenated), ``tanh(Linear)`` bridge to the decoder's initial
  state, teacher forcing, decoder written as a Python loop.  Scores are
  ``v^T tanh(W_h m_j + b + W_s h_{t-1})``: like the library's ``BahdanauAttention`` the key
  projection carries the attention bias ``b`` (H parameters; ``key_bias=False`` drops it).
  The keys are projected once per sequence, and with teacher forcing nothing feeds the
  output layer back, so it runs once over all steps after the loop (as the library and
  joeynmt's ``RecurrentDecoder`` do); generation calls it per step.
* ``attention_real``: the same encoder, bridge and attention on real values, decoding
  free-running: step 0 reads ``Linear(2H, F)`` of the encoder's final states, step t the
  previous output ``Linear(3H, F)([h_{t-1}; context_{t-1}])``.

Parameter counts match Keras: Keras' LSTM has one bias vector per layer where PyTorch has
two (``bias_ih`` and ``bias_hh``), so the ``bias_hh`` of every LSTM is set to zero and frozen
(``requires_grad=False``) and only trainable parameters are counted.  The library's GRU
(``reset_after=True``, the reset gate applied after the recurrent product: PyTorch's
"linear before reset") has two bias vectors like PyTorch's, so GRUs keep both and the
counts are equal.

Training uses ``torch.optim.Adam(lr=1e-3, fused=True)`` (PyTorch's fused CPU kernel, one
call for every parameter).  ``precision="mixed_bfloat16"`` wraps forward and loss in
``torch.autocast("cpu", dtype=torch.bfloat16)``, the backward pass outside it, as the
PyTorch documentation recommends: matrix multiplies (``nn.LSTM`` through oneDNN, the
cells' products, ``nn.Linear``, ``bmm``) run in bfloat16, parameters, optimizer state and
the cells' ``c`` stay float32.  Threads: ``torch.set_num_threads(os.cpu_count())``.
"""

from __future__ import annotations

import os
import time

import torch
from torch import nn
from torch.nn import functional as F

from benchmarks.common import PRECISIONS

START_ID = 1
END_ID = 2
PAD_ID = 0


def set_threads() -> int:
    """Use every core for intra-op parallelism; returns the thread count.

    ``BENCH_TORCH_THREADS`` overrides the count (diagnostics on a contended machine).
    """
    n = int(os.environ.get("BENCH_TORCH_THREADS") or os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


def autocast(precision: str):
    """``torch.autocast`` to bfloat16 for ``mixed_bfloat16``, a no-op context for ``float32``."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "mixed_bfloat16")


def _freeze_hh_bias(module: nn.Module) -> None:
    for name, p in module.named_parameters():
        if "bias_hh" in name:
            with torch.no_grad():
                p.zero_()
            p.requires_grad_(False)


def make_rnn(cell: str, input_size: int, hidden: int, bidirectional: bool = False) -> nn.Module:
    """A batch-first single-layer ``nn.LSTM``/``nn.GRU`` with a Keras-equal parameter count."""
    if cell == "lstm":
        rnn = nn.LSTM(input_size, hidden, batch_first=True, bidirectional=bidirectional)
        _freeze_hh_bias(rnn)
    elif cell == "gru":
        rnn = nn.GRU(input_size, hidden, batch_first=True, bidirectional=bidirectional)
    else:
        raise ValueError(f"unknown cell {cell!r}")
    return rnn


def make_cell(cell: str, input_size: int, hidden: int) -> nn.Module:
    if cell == "lstm":
        c = nn.LSTMCell(input_size, hidden)
        _freeze_hh_bias(c)
    elif cell == "gru":
        c = nn.GRUCell(input_size, hidden)
    else:
        raise ValueError(f"unknown cell {cell!r}")
    return c


def _final_state(cell: str, state):
    """(h, c) of the last layer/direction 0 as ``(B, H)`` tensors (c is None for GRU)."""
    if cell == "lstm":
        h, c = state
        return h[-1], c[-1]
    return state[-1], None


class SimpleSeq2SeqTorch(nn.Module):
    def __init__(self, input_dim=32, hidden=64, output_length=20, output_dim=32, cell="lstm"):
        super().__init__()
        self.output_length = output_length
        self.encoder = make_rnn(cell, input_dim, hidden)
        self.bridge = nn.Linear(hidden, hidden)
        self.decoder = make_rnn(cell, hidden, hidden)
        self.out = nn.Linear(hidden, output_dim)

    def forward(self, x):
        enc, _ = self.encoder(x)
        z = F.relu(self.bridge(enc[:, -1]))
        rep = z.unsqueeze(1).expand(-1, self.output_length, -1)
        dec, _ = self.decoder(rep)
        return self.out(dec)


class Seq2SeqTorch(nn.Module):
    """Free-running feedback decoder (each step reads the previous step's output)."""

    def __init__(self, input_dim=32, hidden=64, output_length=20, output_dim=32, cell="lstm"):
        super().__init__()
        if input_dim != output_dim:
            raise ValueError("feedback decoder needs input_dim == output_dim here")
        self.cell_type = cell
        self.output_length = output_length
        self.encoder = make_rnn(cell, input_dim, hidden)
        self.context = nn.Linear(hidden, output_dim)
        self.cell = make_cell(cell, output_dim, hidden)
        self.out = nn.Linear(hidden, output_dim)

    def forward(self, x):
        enc, state = self.encoder(x)
        h, c = _final_state(self.cell_type, state)
        inp = self.context(enc[:, -1])
        outs = []
        for _ in range(self.output_length):
            if self.cell_type == "lstm":
                h, c = self.cell(inp, (h, c))
            else:
                h = self.cell(inp, h)
            y = self.out(h)
            outs.append(y)
            inp = y
        return torch.stack(outs, dim=1)


class _AttentionCore(nn.Module):
    """Bidirectional encoder, tanh bridge and Bahdanau attention of both attention models."""

    def __init__(self, enc_input, feed_dim, hidden, out_dim, output_length, cell, key_bias):
        super().__init__()
        self.cell_type = cell
        self.output_length = output_length
        self.encoder = make_rnn(cell, enc_input, hidden, bidirectional=True)
        # The library's BahdanauAttention adds its bias (H) to the keys: W_h H_j + b.
        self.key = nn.Linear(2 * hidden, hidden, bias=key_bias)
        self.init_h = nn.Linear(2 * hidden, hidden)
        self.init_c = nn.Linear(2 * hidden, hidden) if cell == "lstm" else None
        self.query = nn.Linear(hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)
        self.cell = make_cell(cell, feed_dim + 2 * hidden, hidden)
        self.out = nn.Linear(3 * hidden, out_dim)

    def encode_features(self, features):
        """Memory (B, T, 2H), keys (B, T, H), the decoder's initial h, c and the final states
        of both directions (B, 2H)."""
        mem, state = self.encoder(features)
        keys = self.key(mem)
        hn = state[0] if self.cell_type == "lstm" else state
        last = torch.cat([hn[0], hn[1]], dim=-1)
        h = torch.tanh(self.init_h(last))
        c = None
        if self.cell_type == "lstm":
            cn = state[1]
            c = torch.tanh(self.init_c(torch.cat([cn[0], cn[1]], dim=-1)))
        return mem, keys, h, c, last

    def attend(self, h, mem, keys):
        """Context (B, 2H) from the previous decoder state."""
        scores = self.v(torch.tanh(keys + self.query(h).unsqueeze(1))).squeeze(-1)  # (B, T)
        alpha = torch.softmax(scores, dim=-1)
        return torch.bmm(alpha.unsqueeze(1), mem).squeeze(1)

    def recur(self, feed, ctx, h, c):
        inp = torch.cat([feed, ctx], dim=-1)
        if self.cell_type == "lstm":
            return self.cell(inp, (h, c))
        return self.cell(inp, h), None


class AttentionSeq2SeqTorch(_AttentionCore):
    """Bahdanau attention over a bidirectional encoder; token input and output."""

    def __init__(
        self,
        vocab_in=40,
        vocab_out=40,
        embedding=64,
        hidden=64,
        output_length=20,
        cell="lstm",
        key_bias=True,
    ):
        super().__init__(embedding, embedding, hidden, vocab_out, output_length, cell, key_bias)
        self.src_embedding = nn.Embedding(vocab_in, embedding)
        self.tgt_embedding = nn.Embedding(vocab_out, embedding)

    def encode(self, x):
        """Returns memory (B, T, 2H), keys (B, T, H) and the decoder's initial h, c."""
        mem, keys, h, c, _ = self.encode_features(self.src_embedding(x))
        return mem, keys, h, c

    def step(self, emb_t, h, c, mem, keys):
        """One decoder step from the embedded previous token; returns logits, h, c."""
        ctx = self.attend(h, mem, keys)
        h, c = self.recur(emb_t, ctx, h, c)
        return self.out(torch.cat([h, ctx], dim=-1)), h, c

    def forward(self, x, y):
        """Teacher forcing: the decoder reads ``[START, y_0, ..., y_{T-2}]``; the output layer
        runs once over all steps after the loop."""
        mem, keys, h, c = self.encode(x)
        start = torch.full((y.shape[0], 1), START_ID, dtype=y.dtype, device=y.device)
        dec_in = self.tgt_embedding(torch.cat([start, y[:, :-1]], dim=1))
        readouts = []
        for t in range(y.shape[1]):
            ctx = self.attend(h, mem, keys)
            h, c = self.recur(dec_in[:, t], ctx, h, c)
            readouts.append(torch.cat([h, ctx], dim=-1))
        return self.out(torch.stack(readouts, dim=1))  # (B, T, V)


class AttentionRealSeq2SeqTorch(_AttentionCore):
    """Real-valued attention model decoding free-running (each step reads its last output)."""

    def __init__(self, input_dim=32, hidden=64, output_length=20, output_dim=32, cell="lstm"):
        super().__init__(input_dim, output_dim, hidden, output_dim, output_length, cell, True)
        # The library's start value: Dense(2H -> F) of the encoder's final states.
        self.context = nn.Linear(2 * hidden, output_dim)

    def forward(self, x):
        mem, keys, h, c, last = self.encode_features(x)
        y = self.context(last)
        outs = []
        for _ in range(self.output_length):
            ctx = self.attend(h, mem, keys)
            h, c = self.recur(y, ctx, h, c)
            y = self.out(torch.cat([h, ctx], dim=-1))
            outs.append(y)
        return torch.stack(outs, dim=1)


def count_params(model: nn.Module) -> int:
    """Trainable parameters (frozen ``bias_hh`` of LSTMs excluded, see module docstring)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build(
    model: str,
    hidden: int,
    length: int = 20,
    features: int = 32,
    vocab: int = 40,
    embedding: int = 64,
    cell: str = "lstm",
) -> nn.Module:
    if model == "simple":
        return SimpleSeq2SeqTorch(features, hidden, length, features, cell)
    if model == "seq2seq":
        return Seq2SeqTorch(features, hidden, length, features, cell)
    if model == "attention":
        return AttentionSeq2SeqTorch(vocab, vocab, embedding, hidden, length, cell)
    if model == "attention_real":
        return AttentionRealSeq2SeqTorch(features, hidden, length, features, cell)
    raise ValueError(f"unknown model {model!r}")


def synthetic_batch(
    model: str, batch: int, length: int, features: int = 32, vocab: int = 40, seed: int = 0
):
    """Fixed random data: floats N(0, 1) or tokens in [3, vocab) (no pad/start/end)."""
    g = torch.Generator().manual_seed(seed)
    if model == "attention":
        x = torch.randint(3, vocab, (batch, length), generator=g)
        y = torch.randint(3, vocab, (batch, length), generator=g)
    else:
        x = torch.randn(batch, length, features, generator=g)
        y = torch.randn(batch, length, features, generator=g)
    return x, y


def time_training(
    model: str,
    hidden: int,
    steps: int,
    warmup: int,
    batch: int = 64,
    length: int = 20,
    cell: str = "lstm",
    precision: str = "float32",
    n_batches: int = 4,
) -> dict:
    """Adam(1e-3) train steps on fixed synthetic batches; times ``steps`` after ``warmup``."""
    threads = set_threads()
    torch.manual_seed(0)
    net = build(model, hidden, length, cell=cell)
    net.train()
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3, fused=True)
    data = [synthetic_batch(model, batch, length, seed=i) for i in range(n_batches)]

    def train_step(x, y):
        opt.zero_grad(set_to_none=True)
        with autocast(precision):
            if model == "attention":
                logits = net(x, y)
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            else:
                loss = F.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    for i in range(warmup):
        train_step(*data[i % n_batches])
    t0 = time.perf_counter()
    for i in range(steps):
        loss = train_step(*data[i % n_batches])
    float(loss)
    elapsed = time.perf_counter() - t0
    return {
        "elapsed_s": elapsed,
        "params": count_params(net),
        "threads": threads,
        "final_loss": float(loss),
    }


# --------------------------------------------------------------------------- generation


@torch.no_grad()
def greedy_decode(net: AttentionSeq2SeqTorch, x: torch.Tensor, max_length: int = 20):
    """Batched greedy decoding; finished rows emit PAD; stops early when all rows ended."""
    b = x.shape[0]
    mem, keys, h, c = net.encode(x)
    tok = torch.full((b,), START_ID, dtype=torch.long)
    finished = torch.zeros(b, dtype=torch.bool)
    out = torch.full((b, max_length), PAD_ID, dtype=torch.long)
    for t in range(max_length):
        logits, h, c = net.step(net.tgt_embedding(tok), h, c, mem, keys)
        tok = logits.argmax(-1)
        tok = torch.where(finished, torch.full_like(tok, PAD_ID), tok)
        out[:, t] = tok
        finished |= tok == END_ID
        if bool(finished.all()):
            break
    return out


@torch.no_grad()
def beam_decode(
    net: AttentionSeq2SeqTorch,
    x: torch.Tensor,
    beam_width: int = 5,
    max_length: int = 20,
    alpha: float = 0.6,
    return_scores: bool = False,
):
    """Batched beam search.

    The encoder memory, keys and initial state are tiled across beams (``B*K`` rows).
    Beams are ranked by summed log-probability during the search; a finished beam (END
    emitted) only extends with PAD at zero cost.  The final choice among the K beams uses
    the GNMT length penalty ``((5 + len) / 6) ** alpha``.  Stops when every beam of every
    sequence has ended or at ``max_length``.
    """
    b, k = x.shape[0], beam_width
    mem, keys, h, c = net.encode(x)
    mem = mem.repeat_interleave(k, dim=0)
    keys = keys.repeat_interleave(k, dim=0)
    h = h.repeat_interleave(k, dim=0)
    c = c.repeat_interleave(k, dim=0) if c is not None else None
    vocab = net.out.out_features
    scores = torch.full((b, k), float("-inf"))
    scores[:, 0] = 0.0  # all beams start identical: keep only one alive at step 0
    finished = torch.zeros(b, k, dtype=torch.bool)
    lengths = torch.zeros(b, k)
    seqs = torch.empty(b, k, 0, dtype=torch.long)
    tok = torch.full((b * k,), START_ID, dtype=torch.long)
    pad_only = torch.full((vocab,), float("-inf"))
    pad_only[PAD_ID] = 0.0
    offsets = (torch.arange(b) * k).unsqueeze(1)
    for t in range(max_length):
        logits, h, c = net.step(net.tgt_embedding(tok), h, c, mem, keys)
        logp = torch.log_softmax(logits, dim=-1).view(b, k, vocab)
        logp = torch.where(finished.unsqueeze(-1), pad_only, logp)
        cand = (scores.unsqueeze(-1) + logp).view(b, k * vocab)
        scores, idx = cand.topk(k, dim=-1)
        beam_idx = torch.div(idx, vocab, rounding_mode="floor")
        new_tok = idx % vocab
        seqs = torch.cat(
            [seqs.gather(1, beam_idx.unsqueeze(-1).expand(-1, -1, t)), new_tok.unsqueeze(-1)],
            dim=-1,
        )
        prev_finished = finished.gather(1, beam_idx)
        lengths = lengths.gather(1, beam_idx) + (~prev_finished).float()
        finished = prev_finished | (new_tok == END_ID)
        flat = (beam_idx + offsets).view(-1)
        h = h[flat]
        if c is not None:
            c = c[flat]
        tok = new_tok.view(-1)
        if bool(finished.all()):
            break
    penalty = ((5.0 + lengths) / 6.0) ** alpha
    best = (scores / penalty).argmax(dim=-1)
    out = seqs[torch.arange(b), best]
    if out.shape[1] < max_length:
        out = F.pad(out, (0, max_length - out.shape[1]), value=PAD_ID)
    if return_scores:
        return out, scores[torch.arange(b), best]
    return out


def time_generation(
    hidden: int,
    strategy: str,
    n: int = 1024,
    length: int = 20,
    beam_width: int = 5,
    batch: int = 1024,
    repeats: int = 1,
    cell: str = "lstm",
    precision: str = "float32",
) -> dict:
    """Times decoding of ``n`` sequences (untrained weights; one untimed warm-up pass)."""
    threads = set_threads()
    torch.manual_seed(0)
    net = build("attention", hidden, length, cell=cell).eval()
    x, _ = synthetic_batch("attention", n, length, seed=123)

    def run():
        outs = []
        for i in range(0, n, batch):
            xb = x[i : i + batch]
            with autocast(precision):
                if strategy == "greedy":
                    outs.append(greedy_decode(net, xb, length))
                else:
                    outs.append(beam_decode(net, xb, beam_width, length))
        return torch.cat(outs)

    run()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
    return {
        "elapsed_s": min(times),
        "elapsed_all_s": times,
        "params": count_params(net),
        "threads": threads,
        "output_shape": list(out.shape),
        "mean_length": float((out != PAD_ID).sum(1).float().mean()),
    }
