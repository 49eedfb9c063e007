"""Native CPU kernels for JAX, compiled on first use and called through XLA's FFI.

XLA's CPU runtime runs each step of a small recurrence as several small kernels on
one core: at hidden 64 an LSTM step is a `[64, 64] x [64, 256]` matrix multiply and a
few elementwise kernels over 16,384 values, each too small to split over threads.
`lstm.cc` runs the whole forward loop, or the whole backward loop, as one call, with
the matrix multiply and the gates fused and the batch rows split over XLA's intra-op
threads (rows are independent for the whole sequence, so no step needs a barrier).

The source ships with the package and is compiled with the system's C++ compiler the
first time a process needs it, into a cache directory (`SEQ2SEQ_CACHE_DIR`, else
`$XDG_CACHE_HOME/seq2seq`, else `~/.cache/seq2seq`), keyed by the source, jaxlib's
version, the compiler and the CPU's features. Without a compiler, or with
`SEQ2SEQ_NATIVE=0`, `lstm_library()` returns None and callers keep their XLA path.
`onednn` builds `onednn_rnn.cc`, oneDNN's LSTM and GRU, the same way (`load`).
"""

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from importlib import resources

_SOURCE = "lstm.cc"
_TARGETS = {
    "seq2seq_lstm_forward": "Seq2seqLstmForward",
    "seq2seq_lstm_backward": "Seq2seqLstmBackward",
    "seq2seq_lstm_forward_masked": "Seq2seqLstmForwardMasked",
    "seq2seq_lstm_backward_masked": "Seq2seqLstmBackwardMasked",
}
_STATE = {}
_REGISTERED = {}  # FFI target name -> the loaded library that provides it


def switched_on(name, environ=None) -> bool:
    """Whether the environment variable `name`, `'0'` or `'1'` (default), is `'1'`."""
    environ = os.environ if environ is None else environ
    raw = environ.get(name, "1").strip()
    if raw not in ("0", "1"):
        raise ValueError(
            f"Invalid environment variable: {name} must be '0' or '1'. Received: {name}={raw!r}"
        )
    return raw == "1"


def native_enabled(environ=None) -> bool:
    """Whether `SEQ2SEQ_NATIVE` (default `1`) allows the native kernels."""
    return switched_on("SEQ2SEQ_NATIVE", environ)


def cache_dir(environ=None) -> str:
    """Where compiled kernels are kept."""
    environ = os.environ if environ is None else environ
    if environ.get("SEQ2SEQ_CACHE_DIR"):
        return environ["SEQ2SEQ_CACHE_DIR"]
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "seq2seq")


def _cpu_features() -> str:
    """The CPU's feature flags (the kernels are compiled for the CPU they run on)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return platform.processor()


def _compile_command(compiler, source, include, output, flags=()):
    return [
        compiler, "-O3", "-march=native", "-std=c++17", "-shared", "-fPIC",
        "-w", f"-I{include}", source, "-o", output, *flags,
    ]  # fmt: skip


def _build(compiler, name=_SOURCE, flags=()) -> str:
    """Compiles the source `name` (with extra compiler `flags`, such as a library to link)
    into the cache (once per key) and returns the library's path."""
    import jax.ffi
    import jaxlib

    source = resources.files(__package__).joinpath(name).read_bytes()
    stem = name.rsplit(".", 1)[0]
    include = jax.ffi.include_dir()
    key = hashlib.sha256()
    for part in (
        source,
        jaxlib.__version__.encode(),
        os.path.realpath(shutil.which(compiler) or compiler).encode(),
        " ".join(_compile_command(compiler, "", include, "", flags)).encode(),
        _cpu_features().encode(),
    ):
        key.update(part + b"\0")
    directory = cache_dir()
    path = os.path.join(directory, f"{stem}-{key.hexdigest()[:16]}.so")
    if os.path.exists(path):
        return path
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        source_path = os.path.join(scratch, name)
        with open(source_path, "wb") as file:
            file.write(source)
        built = os.path.join(scratch, f"{stem}.so")
        result = subprocess.run(
            _compile_command(compiler, source_path, include, built, flags),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{compiler} failed: {result.stderr[-2000:]}")
        os.replace(built, path)  # atomic: concurrent processes see all or nothing
    return path


def compiler():
    """The C++ compiler: `CXX`, else the first of `c++`, `g++`, `clang++` found, or None."""
    return os.environ.get("CXX") or next(
        (c for c in ("c++", "g++", "clang++") if shutil.which(c)), None
    )


def load(name, targets, flags=()):
    """Builds the source `name` (see `_build`), loads it and registers its FFI `targets`
    (`{target name: symbol}`) with JAX; returns the loaded `ctypes` library.

    Raises:
        OSError, RuntimeError, AttributeError: Where no compiler is found, the build fails
            or the library lacks a symbol.
    """
    import jax.ffi

    cxx = compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler found (CXX, c++, g++, clang++)")
    library = ctypes.cdll.LoadLibrary(_build(cxx, name, flags))
    for target, symbol in targets.items():
        if target not in _REGISTERED:  # XLA refuses a second handler for a name
            jax.ffi.register_ffi_target(
                target, jax.ffi.pycapsule(getattr(library, symbol)), platform="cpu"
            )
            _REGISTERED[target] = library
    return library


def lstm_library():
    """The FFI target names of the native LSTM loops, registered with JAX, or None.

    Builds and registers once per process. Returns None when `SEQ2SEQ_NATIVE=0`, when
    no C++ compiler is found (`CXX`, else `c++`, `g++`, `clang++`), or when the build
    fails (with a warning naming the compiler's error); callers then use XLA.
    """
    if "lstm" in _STATE:
        return _STATE["lstm"]
    targets = None
    if native_enabled() and compiler() is not None:
        try:
            load(_SOURCE, _TARGETS)
            targets = tuple(_TARGETS)
        except (OSError, RuntimeError, AttributeError) as error:
            warnings.warn(
                f"seq2seq: the native LSTM kernels could not be built ({error}); "
                "using XLA's loops instead.",
                RuntimeWarning,
                stacklevel=2,
            )
    _STATE["lstm"] = targets
    return targets
