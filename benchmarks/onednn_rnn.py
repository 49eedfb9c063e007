"""Microbenchmark: one LSTM or GRU layer, forward and backward, on oneDNN and the rest.

Per call (jitted forward + backward of one `Recurrent` layer, gradients of the inputs,
initial state and weights) at batch 64, length 20, features 32, hidden 64/256/512, in
float32 and bfloat16 (`mixed_bfloat16`), with the paths measured in the same run,
interleaved repeat by repeat:

- `onednn`: the layer on `seq2seq.native.onednn` (the float32 LSTM routed there too);
- `existing`: the paths before oneDNN: the float32 LSTM on `seq2seq.native`'s loops
  (above 128 units with AVX-512 only, else on `jax_lstm`'s XLA loops, `hardware.avx512`),
  everything else on the `keras.ops` loop (`lax.scan`);
- `torch`: `torch.nn.LSTM`/`torch.nn.GRU`, float32 or under `torch.autocast` bfloat16.

Each path runs in its own process, one after the other for each cell and dtype: in one
process oneDNN's TBB workers, XLA's threads and PyTorch's OpenMP threads wait for work
by spinning, and on a small machine each slows the others several-fold.

PyTorch uses every core (`BENCH_TORCH_THREADS` overrides, as in `torch_reference`).
Run from the repository root on an otherwise idle machine:
``KERAS_BACKEND=jax python -m benchmarks.onednn_rnn [--repeats 30] [--output FILE]``.
Prints milliseconds (medians and minima) and the ratios `torch / onednn` and `existing / onednn`
(above 1: oneDNN faster).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

BATCH, LENGTH, FEATURES = 64, 20, 32


def jax_step(cell, units, dtype, mode):
    """A jitted `f(weights, x, h0)` returning the gradients, for `mode` (see above)."""
    import jax
    import keras

    from seq2seq import hardware
    from seq2seq.layers.fused import jax_onednn, jax_rnn
    from seq2seq.layers.recurrent import Recurrent

    policy = "mixed_bfloat16" if dtype == "bfloat16" else "float32"
    layer = Recurrent(units, cell=cell, return_sequences=True, dtype=policy)
    layer.build((BATCH, LENGTH, FEATURES))
    weights = [v.value for v in layer.trainable_variables]
    threshold, applies, avx512 = jax_rnn.ONEDNN_LSTM_UNITS, jax_onednn.applies, hardware.avx512

    def loss(weights, x, initial):
        (outputs, states), _ = layer.stateless_call(weights, [], x, initial_state=initial)
        return outputs.astype("float32").sum() + states[0].astype("float32").sum()

    grad = jax.grad(loss, argnums=(0, 1, 2))
    # Trace now, under the mode's dispatch; the compiled function keeps it.
    if mode == "onednn":
        jax_rnn.ONEDNN_LSTM_UNITS = 0  # the float32 LSTM too, at every size and CPU
        hardware.avx512 = lambda: True
    else:
        jax_onednn.applies = lambda *args: False
    try:
        x = keras.random.normal((BATCH, LENGTH, FEATURES))
        initial = [keras.ops.zeros((BATCH, units)) for _ in range(2 if cell == "lstm" else 1)]
        compiled = jax.jit(grad).lower(weights, x, initial).compile()
    finally:
        jax_rnn.ONEDNN_LSTM_UNITS, jax_onednn.applies = threshold, applies
        hardware.avx512 = avx512

    def run():
        jax.block_until_ready(compiled(weights, x, initial))

    return run


def torch_step(cell, units, dtype):
    import torch

    torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS") or os.cpu_count() or 1))

    module = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(FEATURES, units, batch_first=True)
    x = torch.randn(BATCH, LENGTH, FEATURES, requires_grad=True)

    def run():
        module.zero_grad(set_to_none=True)
        x.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
            outputs, _ = module(x)
            loss = outputs.float().sum()
        loss.backward()

    return run


def measure(runs, repeats, warmup=1.0, summary=statistics.median):
    """`summary` (median) of the seconds per call of each of `runs` (by name),
    interleaved per repeat, after `warmup` seconds (and at least 3 calls) of each."""
    times = {name: [] for name in runs}
    for run in runs.values():
        start, calls = time.perf_counter(), 0
        while calls < 3 or time.perf_counter() - start < warmup:
            run()
            calls += 1
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: summary(values) for name, values in times.items()}


def worker(path, cell, dtype, units, repeats):
    """`[median, minimum]` milliseconds per call of `path` at each of `units`, in this
    process (the minimum: the least disturbed call on a shared machine)."""
    results = {}
    for size in units:
        run = (
            torch_step(cell, size, dtype) if path == "torch" else jax_step(cell, size, dtype, path)
        )
        both = measure({path: run}, repeats, summary=lambda t: (statistics.median(t), min(t)))
        results[size] = [1e3 * t for t in both[path]]
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--units", type=int, nargs="+", default=[64, 256, 512])
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru"])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--output", help="write the records as JSON here")
    parser.add_argument(
        "--worker", nargs=3, metavar=("PATH", "CELL", "DTYPE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker, args.units, args.repeats)))
        return
    records = []
    print(
        "cell  dtype     units stat   onednn_ms  existing_ms  torch_ms  torch/onednn  existing/onednn"
    )
    for cell in args.cells:
        for dtype in args.dtypes:
            ms = {}
            for path in ("onednn", "existing", "torch"):
                command = [sys.executable, "-m", "benchmarks.onednn_rnn", "--worker", path, cell,
                           dtype, "--repeats", str(args.repeats), "--units", *map(str, args.units)]  # fmt: skip
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                ms[path] = json.loads(done.stdout.strip().splitlines()[-1])
            for units in args.units:
                both = {path: ms[path][str(units)] for path in ms}
                records.append({"cell": cell, "dtype": dtype, "units": units, "batch": BATCH,
                                "length": LENGTH, "features": FEATURES,
                                "ms_median_min": both})  # fmt: skip
                for kind, i in (("median", 0), ("min", 1)):
                    row = {path: both[path][i] for path in both}
                    print(
                        f"{cell:5} {dtype:9} {units:5} {kind:6} {row['onednn']:9.2f}"
                        f"  {row['existing']:11.2f}  {row['torch']:8.2f}"
                        f"  {row['torch'] / row['onednn']:12.2f}"
                        f"  {row['existing'] / row['onednn']:15.2f}",
                        flush=True,
                    )
    if args.output:
        with open(args.output, "w") as file:
            json.dump(records, file, indent=1)


if __name__ == "__main__":
    main()
