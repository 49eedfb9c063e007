"""Load test of `seq2seq serve`: batched serving against one request at a time.

Starts `seq2seq serve` twice on 127.0.0.1 (a subprocess each): with dynamic
batching (`--max-batch 64`) and decoding one request at a time
(`--max-batch 1`). Each gets the same load: 64 concurrent clients (this
process), each sending requests one after another, every answer checked
against `model.generate` on its input alone. Prints a Markdown table
(throughput, p50/p99 latency) and the throughput ratio.

    python -m benchmarks.serve_load                       # a fresh model, hidden 64
    python -m benchmarks.serve_load --model runs/reverse/model.keras --requests 8
    KERAS_BACKEND=torch python -m benchmarks.serve_load

Loopback only; the run is bounded by `--clients x --requests` and `--timeout`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def fresh_model(path: Path, hidden: int, seed: int = 3) -> None:
    """Saves an untrained character model (weights scaled up so outputs vary by input)."""
    from seq2seq.data import Vocabulary
    from seq2seq.models import AttentionSeq2Seq

    vocabulary = Vocabulary(list("abcdefghijklmnopqrst"))
    model = AttentionSeq2Seq(
        input_vocab_size=len(vocabulary),
        output_vocab_size=len(vocabulary),
        input_length=None,
        output_length=16,
        hidden_dim=hidden,
        embedding_dim=hidden // 2,
        seed=seed,
        source_vocabulary=vocabulary,
        target_vocabulary=vocabulary,
    )
    model.generate(vocabulary.encode(["a"]))
    model.set_weights([w * 4 for w in model.get_weights()])
    model.save(path)


def sample_inputs(model, count: int, seed: int = 0) -> list[str]:
    """Distinct random inputs of 3 to 12 symbols from the model's source vocabulary."""
    rng = np.random.default_rng(seed)
    symbols = list(model.source_vocabulary.tokens)
    separator = "" if model.source_vocabulary.level == "char" else " "
    inputs = set()
    while len(inputs) < count:
        inputs.add(separator.join(rng.choice(symbols, size=rng.integers(3, 13))))
    return sorted(inputs)


def start_server(model_path: Path, port: int, max_batch: int, max_wait_ms: float, timeout: float):
    command = [sys.executable, "-m", "seq2seq", "serve", str(model_path), "--port", str(port)]
    command += ["--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms)]
    command += ["--max-queue", "4096", "--max-input-length", "16"]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {server.stderr.read()}")
        try:
            if httpx.get(f"http://{HOST}:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start in time")


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()


def measure(model_path, inputs, expected, max_batch, max_wait_ms, clients, requests, timeout):
    from seq2seq.serving.traffic import run_load

    port = free_port()
    server = start_server(model_path, port, max_batch, max_wait_ms, timeout)
    try:
        url = f"http://{HOST}:{port}/predict"
        payloads = [{"inputs": [text]} for text in inputs]
        run_load(url, payloads, clients, 1, timeout)  # warm up (compiles on JAX)
        before = httpx.get(f"http://{HOST}:{port}/health").json()
        report = run_load(url, payloads, clients, requests, timeout)
        after = httpx.get(f"http://{HOST}:{port}/health").json()
    finally:
        stop_server(server)
    wrong = [
        (payload["inputs"][0], answer)
        for payload, answer, status in zip(report.payloads, report.answers, report.statuses)
        if status != 200 or answer["outputs"] != [expected[payload["inputs"][0]]]
    ]
    summary = report.summary()
    summary["batches"] = after["batches"] - before["batches"]
    summary["wrong"] = len(wrong)
    if wrong:
        print(f"wrong answers ({len(wrong)}), e.g. {wrong[:3]}", file=sys.stderr)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model.keras (default: a fresh character model)")
    parser.add_argument("--hidden", type=int, default=64, help="the fresh model's hidden size")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=8, help="requests per client")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per wait")
    parser.add_argument("--out", help="also write the results as JSON to this file")
    args = parser.parse_args(argv)

    from seq2seq.commands.inference import load_model

    with tempfile.TemporaryDirectory() as folder:
        model_path = Path(args.model) if args.model else Path(folder) / "model.keras"
        if not args.model:
            fresh_model(model_path, args.hidden)
        model = load_model(model_path)
        inputs = sample_inputs(model, args.clients)
        expected = {
            text: model.generate(model.source_vocabulary.encode([text]), return_text=True)["text"][
                0
            ]
            for text in inputs
        }
        rows = []
        for name, max_batch in (("batched", args.max_batch), ("one at a time", 1)):
            print(f"measuring: {name} (--max-batch {max_batch})", file=sys.stderr)
            summary = measure(
                model_path,
                inputs,
                expected,
                max_batch,
                args.max_wait_ms,
                args.clients,
                args.requests,
                args.timeout,
            )
            rows.append({"server": name, "max_batch": max_batch, **summary})
    import keras

    ratio = rows[0]["throughput"] / rows[1]["throughput"]
    print(f"\n{type(model).__name__}, backend {keras.backend.backend()}, {os.cpu_count()} CPUs\n")
    print(
        "| server | --max-batch | clients | requests | batches | requests/s | p50 ms | p99 ms | wrong |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['server']} | {row['max_batch']} | {row['clients']} | {row['requests']} | "
            f"{row['batches']} | {row['throughput']} | {row['p50_ms']} | {row['p99_ms']} | "
            f"{row['wrong']} |"
        )
    print(f"\nThroughput, batched / one at a time: {ratio:.1f}x")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "ratio": ratio}, indent=1) + "\n")
    return 0 if all(row["wrong"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
