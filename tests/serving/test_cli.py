"""`seq2seq serve` on the command line: one-line errors, and a real server process."""

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from serving_helpers import expected_output

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from seq2seq.cli import main  # noqa: E402


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return code, err.getvalue()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.keras", "--port", "0"], "missing.keras"),
        (["m.keras", "--max-batch", "8", "--max-inputs", "9"], "--max-inputs. Expected 1 to"),
        (["m.keras", "--max-wait-ms", "-1"], "--max-wait-ms. Expected a number in [0, 1000]"),
        (["m.keras", "--port", "70000"], "--port: expected 0 to 65535, received 70000"),
        (["m.keras", "--beam", "0"], "expected a positive integer, received '0'"),
    ],
)
def test_mistakes_print_one_line_and_exit_2(args, message):
    code, err = run("serve", *args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("seq2seq serve: error: "), err
    assert message in err


def test_a_busy_port_is_one_line_before_the_model_loads():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err = run("serve", "not-loaded.keras", "--port", port)
    assert code == 2 and err.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err and "not-loaded" not in err


def test_the_command_serves_a_saved_model_until_interrupted(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "seq2seq", "serve", str(path), "--port", str(port), "--beam", "2"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        answer = httpx.post(url + "/predict", json={"inputs": ["bead", "cab"]}, timeout=60).json()
        assert answer["beam"] == 2
        assert answer["outputs"] == [expected_output(model, t, 2)[0] for t in ("bead", "cab")]
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert f"Serving {path} at {url}/" in err and err.endswith("Stopped.\n")
