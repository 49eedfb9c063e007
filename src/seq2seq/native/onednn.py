"""oneDNN's recurrences (LSTM, linear-before-reset GRU) and matrix multiply for JAX,
through XLA's FFI, and the recurrences for TensorFlow, on NumPy arrays (`run`).

`onednn_rnn.cc` wraps oneDNN's `lstm_forward`/`lstm_backward` and
`lbr_gru_forward`/`lbr_gru_backward` primitives, and its `matmul`; it is compiled on
first use as `lstm.cc` is (`seq2seq.native.load`: same cache, same compiler), against
the headers of the `onednn-devel` wheel, and linked to the `onednn` wheel's
`libdnnl.so` (its folder put in the library's search path). oneDNN picks the instruction set at run time.

The `onednn` wheel is oneDNN's SYCL build: its CPU engine is a SYCL device of the
OpenCL CPU runtime (the `intel-opencl-rt` wheel), which the OpenCL loader only finds
through `OCL_ICD_FILENAMES`. Where that variable is unset, loading this module's kernels
sets it to the wheel's `libintelocl.so`: a process-wide change, made only when the
kernels load.

`SEQ2SEQ_ONEDNN=0` (default `1`) turns the kernels off, as does `SEQ2SEQ_NATIVE=0`;
`onednn_library()` is also None without the wheels, without a compiler, or where the
build fails (with a warning). The layers then run their own loops (XLA's, TensorFlow's),
which compute the same numbers (`tests/layers/fused/test_jax_onednn.py`,
`test_tf_onednn.py`).
"""

import ctypes
import os
import warnings
from importlib import metadata
from pathlib import Path

from seq2seq import native

_SOURCE = "onednn_rnn.cc"
_TARGETS = {
    "seq2seq_onednn_rnn_forward": "Seq2seqOnednnRnnForward",
    "seq2seq_onednn_rnn_backward": "Seq2seqOnednnRnnBackward",
    "seq2seq_onednn_matmul": "Seq2seqOnednnMatmul",
}
_STATE = {}


def onednn_enabled(environ=None) -> bool:
    """Whether `SEQ2SEQ_ONEDNN` (default `1`) and `SEQ2SEQ_NATIVE` allow oneDNN."""
    return native.switched_on("SEQ2SEQ_ONEDNN", environ) and native.native_enabled(environ)


def _wheel_file(distribution, suffix) -> Path:
    """The installed file of `distribution` whose path ends with `suffix`."""
    installed = metadata.distribution(distribution)
    for file in installed.files or ():
        if str(file).endswith(suffix):
            return Path(installed.locate_file(file)).resolve()
    raise OSError(f"the {distribution} wheel has no {suffix}")


class OnednnLibrary:
    """The loaded kernels: their FFI target names, the workspace query, the recurrences
    on NumPy arrays (`run`, for the TensorFlow backend), and whether oneDNN has bfloat16
    products on this CPU (`bfloat16`: AVX-512 or AVX2-VNNI-2; without them the bfloat16
    layers keep XLA's loops and products)."""

    forward = "seq2seq_onednn_rnn_forward"
    backward = "seq2seq_onednn_rnn_backward"
    matmul = "seq2seq_onednn_matmul"

    def __init__(self, library):
        self._size = library.Seq2seqOnednnWorkspaceSize
        self._size.restype = ctypes.c_int64
        self._size.argtypes = [ctypes.c_int64] * 7
        self._raw = {}
        for name in ("Forward", "Backward"):
            function = getattr(library, f"Seq2seqOnednnRnn{name}Raw")
            function.restype = ctypes.c_int64
            function.argtypes = [ctypes.c_int64] * 7 + [ctypes.c_void_p] * 2
            self._raw[name.lower()] = function
        library.Seq2seqOnednnBfloat16Matmul.restype = ctypes.c_int64
        self.bfloat16 = bool(library.Seq2seqOnednnBfloat16Matmul())

    def workspace_size(self, cell, reverse, bf16, steps, batch, features, units) -> int:
        """Bytes of the forward call's workspace, or -1 where oneDNN has no primitive.

        `cell` is 0 for the LSTM, 1 for the GRU. Builds (and keeps) the primitives.
        """
        return int(self._size(cell, int(reverse), int(bf16), steps, batch, features, units))

    def run(self, direction, cell, reverse, units, arrays, results):
        """The `"forward"` or `"backward"` call on float32 NumPy arrays, outside XLA.

        `arrays` and `results` are C-contiguous, in the order of the FFI calls
        (`jax_onednn`); the results are written in place. `cell` is 0 for the LSTM, 1
        for the GRU. Raises `RuntimeError` where oneDNN fails.
        """
        steps, batch, features = arrays[0].shape
        pointers = [
            (ctypes.c_void_p * len(a))(*(x.ctypes.data for x in a)) for a in (arrays, results)
        ]
        shape = (steps, batch, features, units)
        if self._raw[direction](cell, int(reverse), 0, *shape, *pointers) != 0:
            raise RuntimeError(f"oneDNN's {direction} call failed")


def onednn_library():
    """The oneDNN kernels (`OnednnLibrary`), registered with JAX, or None.

    Builds and loads once per process; None when disabled (`SEQ2SEQ_ONEDNN=0` or
    `SEQ2SEQ_NATIVE=0`), without the `onednn` wheels or a C++ compiler, or where the
    build or oneDNN's CPU engine fails (with a warning naming the error).
    """
    if "onednn" in _STATE:
        return _STATE["onednn"]
    result = None
    if onednn_enabled() and native.compiler() is not None:
        try:
            libdnnl = _wheel_file("onednn", "libdnnl.so.3")
            header = _wheel_file("onednn-devel", "oneapi/dnnl/dnnl.hpp")
            include = header.parents[2]
            flags = (
                f"-DSEQ2SEQ_ONEDNN_WHEEL={metadata.version('onednn')}",  # in the cache key
                f"-I{include}",
                f"-L{libdnnl.parent}",
                "-l:libdnnl.so.3",
                # RPATH, not RUNPATH: it also serves libdnnl's own dependencies (TBB,
                # the SYCL runtime), which the wheels put in the same folder.
                f"-Wl,--disable-new-dtags,-rpath,{libdnnl.parent}",
            )
            if not os.environ.get("OCL_ICD_FILENAMES"):
                os.environ["OCL_ICD_FILENAMES"] = str(
                    _wheel_file("intel-opencl-rt", "libintelocl.so")
                )
            library = OnednnLibrary(native.load(_SOURCE, _TARGETS, flags))
            if library.workspace_size(1, False, False, 1, 1, 1, 1) < 0:
                raise RuntimeError("oneDNN has no CPU engine here")
            result = library
        except (OSError, RuntimeError, AttributeError, metadata.PackageNotFoundError) as error:
            warnings.warn(
                f"seq2seq: the oneDNN kernels could not be loaded ({error}); "
                "the layers run their own loops instead.",
                RuntimeWarning,
                stacklevel=2,
            )
    _STATE["onednn"] = result
    return result
