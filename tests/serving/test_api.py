"""The HTTP API against a real server on 127.0.0.1: answers, errors, limits, the queue."""

import asyncio
import json
import threading
import time

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from serving_helpers import WORDS, expected_output, tiny_model  # noqa: E402

from seq2seq.models import Seq2Seq  # noqa: E402
from seq2seq.serving.app import create_app  # noqa: E402
from seq2seq.serving.background import BackgroundServer  # noqa: E402
from seq2seq.serving.errors import RequestError  # noqa: E402
from seq2seq.serving.limits import ServingLimits  # noqa: E402
from seq2seq.serving.predictor import TextPredictor  # noqa: E402

LIMITS = ServingLimits(max_batch=16, max_inputs=8, max_input_length=12, max_body_bytes=4096)


@pytest.fixture(scope="module")
def server(model):
    with BackgroundServer(create_app(TextPredictor(model, LIMITS))) as server:
        yield server


def post(server, body, **kwargs):
    if isinstance(body, (bytes, str)):
        kwargs.setdefault("headers", {"content-type": "application/json"})
        return httpx.post(server.url + "/predict", content=body, timeout=60, **kwargs)
    return httpx.post(server.url + "/predict", json=body, timeout=60, **kwargs)


def test_health_describes_the_model(server):
    answer = httpx.get(server.url + "/health").json()
    assert answer["status"] == "ok"
    assert answer["model"] == "AttentionSeq2Seq" and answer["attention"] is True
    assert (answer["max_inputs"], answer["max_input_length"], answer["level"]) == (8, 12, "char")


@pytest.mark.parametrize("beam", [1, 3])
def test_outputs_equal_generate_on_each_input(server, model, beam):
    response = post(server, {"inputs": WORDS, "beam": beam, "attention": True})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["beam"] == beam
    for text, output, alignment in zip(WORDS, answer["outputs"], answer["attention"]):
        expected, weights = expected_output(model, text, beam)
        assert output == expected, text
        assert alignment["source"] == list(text) + ["</s>"]
        assert alignment["output"][: len(output)] == list(output) or "<unk>" in output
        rows = np.asarray(alignment["weights"])
        assert rows.shape == (len(alignment["output"]), len(text) + 1)
        np.testing.assert_allclose(rows, weights[: rows.shape[0], : rows.shape[1]], atol=2e-4)
        np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=2e-3)  # padding gets no weight


def test_default_beam_and_no_attention(server, model):
    answer = post(server, {"inputs": ["abc"]}).json()
    assert answer == {"outputs": [expected_output(model, "abc")[0]], "beam": 1, "attention": None}


def test_page_and_openapi(server):
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '"model": "AttentionSeq2Seq"' in page.text and "__SETTINGS__" not in page.text
    schema = httpx.get(server.url + "/openapi.json").json()
    assert set(schema["paths"]) >= {"/predict", "/health"}
    assert "PredictRequest" in schema["components"]["schemas"]
    assert httpx.get(server.url + "/docs").status_code == 200


BAD_REQUESTS = [
    (b"{", 400, "not valid JSON"),
    (b"\xff\xfe", 400, "not valid JSON"),
    (b"", 422, "Field required"),
    (b"[]", 422, "valid dictionary"),
    (b'"abc"', 422, "valid dictionary"),
    ({"input": ["abc"]}, 422, "inputs: Field required"),
    ({"inputs": "abc"}, 422, "inputs: Input should be a valid list"),
    ({"inputs": [1, 2]}, 422, "inputs.0: Input should be a valid string"),
    ({"inputs": [None]}, 422, "inputs.0: Input should be a valid string"),
    ({"inputs": ["abc"], "beam": "2"}, 422, "beam: Input should be a valid integer"),
    ({"inputs": ["abc"], "beam": 2.5}, 422, "beam: Input should be a valid integer"),
    ({"inputs": ["abc"], "beam": True}, 422, "beam: Input should be a valid integer"),
    ({"inputs": ["abc"], "attention": "yes"}, 422, "attention: Input should be a valid boolean"),
    ({"inputs": ["abc"], "temperature": 1}, 422, "temperature: Extra inputs are not permitted"),
    ({"inputs": []}, 422, "`inputs` is empty"),
    ({"inputs": [""]}, 422, "inputs[0] is empty"),
    ({"inputs": ["abc", "a" * 13]}, 422, "inputs[1] is too long. Expected at most 12 characters"),
    ({"inputs": ["abz", "xy#"]}, 422, 'inputs[0] has characters the model does not know: "z"'),
    ({"inputs": ["\ud800"]}, 422, "does not know"),
    ({"inputs": ["abc"] * 9}, 413, "Too many inputs. Expected at most 8"),
    ({"inputs": ["abc"], "beam": 0}, 422, "Expected 1 to 16. Received: beam=0"),
    ({"inputs": ["abc"], "beam": 17}, 422, "Expected 1 to 16. Received: beam=17"),
    ({"inputs": ["abc"], "beam": 10**30}, 422, "beam"),
    ({"inputs": ["a" * 5000]}, 413, "too large"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_REQUESTS)
def test_bad_requests_get_4xx_with_a_message(server, body, status, message):
    if isinstance(body, dict) and body.get("inputs") == ["\ud800"]:
        body = '{"inputs": ["\\ud800"]}'  # a lone surrogate: valid JSON, not encodable UTF-8
    response = post(server, body)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def test_a_body_not_sent_as_json_gets_415(server):
    for headers in ({"content-type": "text/plain"}, {}):
        response = post(server, b'{"inputs": ["abc"]}', headers=headers)
        assert response.status_code == 415, response.text
        assert "Expected Content-Type: application/json" in response.json()["detail"]


def test_unknown_paths_and_methods_answer_json(server):
    missing = httpx.get(server.url + "/nothing")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    wrong = httpx.get(server.url + "/predict")
    assert wrong.status_code == 405 and "detail" in wrong.json()


def malformed_bodies(count=60, seed=0):
    """Bodies of every kind of mistake, mixed with valid requests."""
    rng = np.random.default_rng(seed)
    values = [None, True, 1, -1, 2.5, "", "abc", [], {}, ["abc"], [1], {"a": 1}, "a" * 20]
    bodies = []
    for _ in range(count):
        kind = rng.integers(5)
        if kind == 0:
            bodies.append(bytes(rng.integers(0, 256, size=rng.integers(1, 40), dtype=np.uint8)))
        elif kind == 1:
            body = {"inputs": values[rng.integers(len(values))]}
            body[["beam", "attention", "x"][rng.integers(3)]] = values[rng.integers(len(values))]
            bodies.append(json.dumps(body).encode())
        elif kind == 2:
            bodies.append(b'{"inputs": ' + b"[" * int(rng.integers(1, 2000)) + b"]")
        elif kind == 3:
            text = "".join(rng.choice(list("abcdefxyz<>/ "), size=rng.integers(0, 16)))
            bodies.append(
                json.dumps({"inputs": [text], "beam": int(rng.integers(-2, 20))}).encode()
            )
        else:
            bodies.append(json.dumps({"inputs": ["abc", "fed"], "beam": 2}).encode())
    return bodies


def test_a_burst_of_malformed_requests_gets_no_5xx(server, model):
    bodies = malformed_bodies()

    async def send_all():
        async with httpx.AsyncClient(timeout=60) as client:
            headers = {"content-type": "application/json"}
            return await asyncio.gather(
                *(client.post(server.url + "/predict", content=b, headers=headers) for b in bodies)
            )

    responses = asyncio.run(send_all())
    statuses = [response.status_code for response in responses]
    assert all(status == 200 or 400 <= status < 500 for status in statuses), statuses
    assert all(response.json()["detail"] for response in responses if response.status_code != 200)
    valid = [
        r.json() for b, r in zip(bodies, responses) if b.startswith(b'{"inputs": ["abc", "fed"]')
    ]
    assert valid and all(
        a["outputs"] == [expected_output(model, t, 2)[0] for t in ("abc", "fed")] for a in valid
    )
    assert httpx.get(server.url + "/health").json()["status"] == "ok"


def test_attention_needs_an_attention_model():
    predictor = TextPredictor(tiny_model(Seq2Seq), LIMITS)
    with pytest.raises(RequestError, match="Seq2Seq has no attention") as error:
        predictor.check(["abc"], beam=1, attention=True)
    assert error.value.status_code == 422
    predictor.check(["abc"], beam=1, attention=False)


class SlowPredictor(TextPredictor):
    """Takes `delay` seconds per batch, so that requests queue up."""

    delay = 1.0

    def predict(self, texts, beam, attention=False):
        time.sleep(self.delay)
        return [{"output": text[::-1]} for text in texts]


def test_a_full_queue_answers_503_and_every_request_gets_one_answer(model):
    limits = ServingLimits(max_batch=1, max_queue=2, max_wait_ms=0)
    results = []
    with BackgroundServer(create_app(SlowPredictor(model, limits))) as server:

        def client(text):
            response = httpx.post(server.url + "/predict", json={"inputs": [text]}, timeout=60)
            results.append((text, response.status_code, response.json()))

        threads = [threading.Thread(target=client, args=(word,)) for word in WORDS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        health = httpx.get(server.url + "/health").json()
    assert len(results) == len(WORDS)
    served = [(text, answer) for text, status, answer in results if status == 200]
    refused = [answer for _, status, answer in results if status == 503]
    assert len(served) + len(refused) == len(WORDS)
    assert len(served) >= 1 and len(refused) >= 1
    assert all(answer["outputs"] == [text[::-1]] for text, answer in served)
    assert all("busy" in answer["detail"] for answer in refused)
    assert health["waiting"] == 0 and health["batches"] == len(served)
