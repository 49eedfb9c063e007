import sys

import pytest

from seq2seq import allocator


def test_heap_pad_defaults_to_256_mib():
    assert allocator.heap_pad_bytes({}) == 256 * 1024 * 1024


def test_heap_pad_reads_the_environment_in_mib():
    assert allocator.heap_pad_bytes({"SEQ2SEQ_HEAP_PAD_MB": "64"}) == 64 * 1024 * 1024


@pytest.mark.parametrize("raw", ["lots", "-1", "1.5"])
def test_heap_pad_rejects_bad_values_naming_the_variable(raw):
    with pytest.raises(ValueError, match=r"SEQ2SEQ_HEAP_PAD_MB.*Received: '" + raw):
        allocator.heap_pad_bytes({"SEQ2SEQ_HEAP_PAD_MB": raw})


def test_zero_turns_tuning_off():
    assert allocator.tune_heap({"SEQ2SEQ_HEAP_PAD_MB": "0"}) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_tuning_takes_effect_on_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert allocator.tune_heap({"SEQ2SEQ_HEAP_PAD_MB": "256"}) is True
