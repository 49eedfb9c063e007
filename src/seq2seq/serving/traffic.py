"""`run_load`: concurrent clients sending requests to a server, timed (tests, benchmarks)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class LoadReport:
    """What a load run measured.

    Attributes:
        payloads: The request bodies, in the order sent (client by client).
        answers: The JSON answer to each payload (`None` when the request failed).
        statuses: The HTTP status of each (0 when no answer came).
        latencies: Seconds from sending to answer, per request.
        seconds: Wall time of the whole run.
        clients: Concurrent clients.
    """

    payloads: list[dict] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    clients: int = 1

    @property
    def throughput(self) -> float:
        """Answered requests per second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The `q`-th percentile of the latencies, in milliseconds."""
        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else 0.0

    def summary(self) -> dict[str, float]:
        """Requests, throughput (requests/s) and p50/p99 latency (ms)."""
        return {
            "clients": self.clients,
            "requests": len(self.latencies),
            "seconds": round(self.seconds, 3),
            "throughput": round(self.throughput, 1),
            "p50_ms": round(self.percentile(50), 1),
            "p99_ms": round(self.percentile(99), 1),
        }


async def _post(reader, writer, host: str, path: str, body: bytes) -> tuple[int, bytes]:
    """One HTTP/1.1 POST on a kept-alive connection: `(status, body)` of the answer."""
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    headers = {name.strip().lower(): value.strip() for name, value in headers.items()}
    return status, await reader.readexactly(int(headers.get("content-length", 0)))


def run_load(
    url: str,
    payloads: Sequence[dict],
    clients: int,
    requests_per_client: int,
    timeout: float = 60.0,
) -> LoadReport:
    """Sends `clients * requests_per_client` POST requests to `url`, `clients` at a time.

    Client `c` opens one kept-alive connection and sends payloads
    `c, c + clients, ...` (cycling through `payloads`) one after another, each
    waiting for the previous answer. The clients speak plain HTTP/1.1 over
    asyncio streams: a general client (httpx) costs more per request than the
    server under test at 64 connections, and would measure itself.

    Args:
        url: The endpoint, e.g. `http://127.0.0.1:8000/predict`.
        payloads: JSON bodies to send.
        clients: Concurrent clients.
        requests_per_client: Requests each client sends.
        timeout: Seconds to wait for one answer.

    Returns:
        A `LoadReport`; a request without an answer (timeout, closed connection)
        has status 0, and its client stops.

    Example:

    >>> from seq2seq.serving.traffic import run_load
    >>> run_load(url, [{"inputs": ["abc"]}], clients=64, requests_per_client=4).summary()  # doctest: +SKIP
    """
    parts = urllib.parse.urlsplit(url)
    host, port, path = parts.hostname, parts.port or 80, parts.path or "/"
    total = clients * requests_per_client
    sent = [payloads[i % len(payloads)] for i in range(total)]
    bodies = [json.dumps(payload).encode() for payload in sent]
    report = LoadReport(
        payloads=sent, answers=[None] * total, statuses=[0] * total, clients=clients
    )
    latencies = [0.0] * total

    async def client(number: int) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        try:
            for index in range(number, total, clients):
                start = time.perf_counter()
                try:
                    status, body = await asyncio.wait_for(
                        _post(reader, writer, parts.netloc, path, bodies[index]), timeout
                    )
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                    return
                latencies[index] = time.perf_counter() - start
                report.statuses[index] = status
                report.answers[index] = json.loads(body) if body else None
        finally:
            writer.close()

    async def main() -> None:
        await asyncio.gather(*(client(number) for number in range(clients)))

    start = time.perf_counter()
    asyncio.run(main())
    report.seconds = time.perf_counter() - start
    report.latencies = [t for t, status in zip(latencies, report.statuses) if status]
    return report
