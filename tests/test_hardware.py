"""`seq2seq.hardware`: the CPU's flags and the precision that trains fastest on them."""

import pytest

from seq2seq import hardware


@pytest.mark.parametrize(
    "flags, accelerated, expected",
    [
        ({"avx2", "fma"}, False, "float32"),  # AVX2 only: bfloat16 products run slower
        ({"avx2", "avx512f", "avx512_bf16"}, False, "mixed_bfloat16"),  # AMD Zen 4
        ({"avx2", "avx512f", "amx_tile", "amx_bf16"}, False, "mixed_bfloat16"),  # Xeon, AMX
        ({"avx2", "avx512f"}, False, "float32"),  # AVX-512 without bfloat16 instructions
        ({"avx2"}, True, "mixed_bfloat16"),  # a GPU
    ],
)
def test_fast_precision_follows_the_bfloat16_instructions(
    monkeypatch, flags, accelerated, expected
):
    monkeypatch.setattr(hardware, "cpu_info", lambda: ("a CPU", frozenset(flags)))
    monkeypatch.setattr(hardware, "accelerated", lambda: accelerated)
    assert hardware.fast_precision() == expected


@pytest.mark.parametrize(
    "flags, expected",
    [({"avx2", "fma"}, False), ({"avx2", "avx512f", "avx512bw"}, True), (set(), False)],
)
def test_avx512_reads_the_foundation_flag(monkeypatch, flags, expected):
    monkeypatch.setattr(hardware, "cpu_info", lambda: ("a CPU", frozenset(flags)))
    assert hardware.avx512() is expected


def test_cpu_info_reads_this_machine():
    name, flags = hardware.cpu_info()
    assert isinstance(name, str) and name
    assert hardware.bfloat16_instructions() == bool(flags & set(hardware.BFLOAT16_FLAGS))
    assert hardware.avx512() == ("avx512f" in flags)
    assert hardware.accelerated() is False  # the test machines have no accelerator
