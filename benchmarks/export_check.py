"""Checks `seq2seq export` against `seq2seq predict`: the same greedy outputs, text for text.

    python -m benchmarks.export_check runs/dates/model.keras --task dates --count 1000

Takes `--count` sources of a built-in task (a fresh draw, `--seed`), prints `seq2seq
predict --beam 1` for them, exports the model with `seq2seq export --beam 1` in both
formats, and decodes the same sources with each export the way a consumer would: in a
child process that never imports seq2seq (nor Keras or TensorFlow for ONNX), reading only `vocabularies.json`
and the graphs (onnxruntime; TensorFlow for the SavedModel). Prints how many outputs
agree, and exits with 1 unless all do.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CONSUMER = r"""
import json, os, sys
import numpy as np

folder, format, inputs_path, outputs_path = sys.argv[1:5]
with open(os.path.join(folder, "vocabularies.json"), encoding="utf-8") as handle:
    description = json.load(handle)
reserved = description["reserved_ids"]
source, target = description["source"], description["target"]
index = {symbol: i for i, symbol in enumerate(source["symbols"])}
with open(inputs_path, encoding="utf-8") as handle:
    texts = handle.read().split("\n")[:-1]

def encode(batch):
    rows = [
        [index.get(symbol, reserved["unknown"]) for symbol in (text if source["level"] == "char" else text.split())]
        + [reserved["end"]]
        for text in batch
    ]
    x = np.full((len(rows), max(map(len, rows))), reserved["pad"], dtype="int32")
    for i, row in enumerate(rows):
        x[i, : len(row)] = row
    return x

def decode(ids):
    joiner = "" if target["level"] == "char" else " "
    out = []
    for row in ids.tolist():
        row = row[: row.index(reserved["end"])] if reserved["end"] in row else row
        out.append(joiner.join(target["symbols"][i] for i in row if i not in (reserved["pad"], reserved["start"])))
    return out

if format == "onnx":
    import onnxruntime
    session = onnxruntime.InferenceSession(os.path.join(folder, "greedy.onnx"))
    run = lambda x: session.run(["ids"], {"x": x})[0]
else:
    import tensorflow as tf
    signature = tf.saved_model.load(folder).signatures["greedy"]
    run = lambda x: signature(x=tf.constant(x))["ids"].numpy()
predictions = []
for start in range(0, len(texts), 256):
    predictions += decode(run(encode(texts[start : start + 256])))
# (TensorFlow itself imports Keras; onnxruntime does not.)
assert "seq2seq" not in sys.modules, "the consumer imported seq2seq"
if format == "onnx":
    assert "keras" not in sys.modules and "tensorflow" not in sys.modules, "the consumer imported Keras"
with open(outputs_path, "w", encoding="utf-8") as handle:
    handle.write("".join(p + "\n" for p in predictions))
"""


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return done


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export_check")
    parser.add_argument("model", help="a model.keras written by `seq2seq train` (a text model)")
    parser.add_argument("--task", required=True, help="the built-in task whose sources to use")
    parser.add_argument("--count", type=int, default=1000, help="inputs (default: 1000)")
    parser.add_argument("--seed", type=int, default=12345, help="the task draw's seed")
    args = parser.parse_args()

    from seq2seq.data.tasks import get_task

    splits = get_task(args.task).load(num_examples=max(args.count * 2, 3), seed=args.seed)
    sources = [pair[0] for split in ("test", "validation", "train") for pair in splits[split]]
    sources = list(dict.fromkeys(sources))[: args.count]
    seq2seq = [sys.executable, "-m", "seq2seq"]
    with tempfile.TemporaryDirectory() as folder:
        inputs = os.path.join(folder, "inputs.txt")
        with open(inputs, "w", encoding="utf-8") as handle:
            handle.write("".join(text + "\n" for text in sources))
        started = time.perf_counter()
        expected = _run(seq2seq + ["predict", args.model, "--file", inputs, "--beam", "1"])
        expected = expected.stdout.split("\n")[: len(sources)]
        print(f"seq2seq predict: {len(expected)} outputs in {time.perf_counter() - started:.1f} s")
        agreed_all = True
        for format in ("onnx", "saved_model"):
            out = os.path.join(folder, format)
            started = time.perf_counter()
            _run(seq2seq + ["export", args.model, "--format", format, "--out", out, "--beam", "1"])
            exported = time.perf_counter() - started
            outputs = os.path.join(folder, f"{format}.txt")
            started = time.perf_counter()
            _run([sys.executable, "-c", CONSUMER, out, format, inputs, outputs])
            with open(outputs, encoding="utf-8") as handle:
                got = handle.read().split("\n")[: len(sources)]
            agreed = sum(a == b for a, b in zip(got, expected))
            agreed_all &= agreed == len(sources)
            print(
                f"{format}: {agreed}/{len(sources)} outputs equal to seq2seq predict "
                f"(export {exported:.1f} s, {len(sources)} inputs decoded in "
                f"{time.perf_counter() - started:.1f} s incl. start-up)"
            )
            for source, a, b in [t for t in zip(sources, got, expected) if t[1] != t[2]][:5]:
                print(f"  differs: {source!r}: export {a!r}, predict {b!r}")
        print(json.dumps({"model": args.model, "task": args.task, "all_equal": agreed_all}))
    return 0 if agreed_all else 1


if __name__ == "__main__":
    sys.exit(main())
