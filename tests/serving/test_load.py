"""A bounded load test on 127.0.0.1: 64 concurrent clients, every answer checked.

Reports the batched server's throughput and p50/p99 latency next to a server
that decodes one request at a time (`max_batch=1`); the speed-up itself is
measured by `benchmarks/serve_load.py` (docs/serving.md), not asserted here.
"""

import httpx
import pytest
from serving_helpers import WORDS, expected_output

pytest.importorskip("fastapi")

from seq2seq.serving.app import create_app  # noqa: E402
from seq2seq.serving.background import BackgroundServer  # noqa: E402
from seq2seq.serving.limits import ServingLimits  # noqa: E402
from seq2seq.serving.predictor import TextPredictor  # noqa: E402
from seq2seq.serving.traffic import run_load  # noqa: E402

CLIENTS = 64


def load(model, max_batch, requests_per_client):
    limits = ServingLimits(max_batch=max_batch, max_queue=CLIENTS, max_input_length=12)
    payloads = [{"inputs": [word]} for word in WORDS]
    with BackgroundServer(create_app(TextPredictor(model, limits))) as server:
        run_load(server.url + "/predict", payloads, clients=4, requests_per_client=2)  # warm up
        report = run_load(
            server.url + "/predict", payloads, CLIENTS, requests_per_client, timeout=120
        )
        health = httpx.get(server.url + "/health").json()
    return report, health


def test_64_concurrent_clients_get_correct_answers_in_shared_batches(model):
    expected = {word: expected_output(model, word)[0] for word in WORDS}
    batched, health = load(model, max_batch=CLIENTS, requests_per_client=3)
    assert batched.statuses == [200] * len(batched.payloads)
    for payload, answer in zip(batched.payloads, batched.answers):
        assert answer["outputs"] == [expected[payload["inputs"][0]]]
    served = len(batched.payloads) + 8  # with the warm-up
    assert health["requests"] == served and health["batches"] < served / 4

    single, health = load(model, max_batch=1, requests_per_client=1)
    assert single.statuses == [200] * len(single.payloads)
    assert all(
        a["outputs"] == [expected[p["inputs"][0]]] for p, a in zip(single.payloads, single.answers)
    )
    assert health["batches"] == health["requests"]
    print()
    for name, report in (("batched (max_batch 64)", batched), ("one at a time", single)):
        summary = report.summary()
        print(
            f"{name:>24}: {summary['requests']} requests, {summary['throughput']} requests/s, "
            f"p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms"
        )
