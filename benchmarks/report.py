"""Summaries of the raw records and the Markdown report of ``benchmarks.run``.

Rows are compared like with like: "vs PyTorch" divides by the PyTorch reference of the
same model, size, cell and precision (library ``mixed_bfloat16`` against PyTorch under
``torch.autocast`` bfloat16), and "vs own float32" divides a ``mixed_bfloat16`` row by the
same implementation's float32 row.  MFU is against the matrix-multiply peak of the row's
precision, measured in the same run (``benchmarks/machine.py``).
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

from benchmarks.common import BACKENDS, BEAM_WIDTH, CELLS, GEN_SEQUENCES, LENGTH, MODELS, summarize
from benchmarks.machine import describe_cpu, peak_for

PRECISION_NAMES = {
    "float32": "float32",
    "mixed_bfloat16": "mixed_bfloat16 (PyTorch: torch.autocast bfloat16)",
}


def parse_label(label: str):
    if "[" in label:
        impl, backend = label[:-1].split("[")
        return impl, backend
    return label, None


def _key(rec, keys):
    return tuple(rec.get(k) for k in keys)


def summarize_rows(records, keys, rate_key, peaks):
    """One row per distinct ``keys`` (which hold ``label``), with medians and ratios."""
    keys = [*keys, "cell", "precision"]
    by_key = {}
    for rec in records:
        by_key.setdefault(_key(rec, keys), []).append(rec)
    out = []
    for key, recs in by_key.items():
        ok = [r for r in recs if r.get("ok")]
        row = dict(zip(keys, key, strict=True))
        row["rate"] = summarize([r[rate_key] for r in ok])
        row["peak_rss_mb"] = summarize([r["peak_rss_mb"] for r in ok])
        row["params"] = ok[0].get("params") if ok else None
        row["errors"] = sorted({r.get("error", "") for r in recs if not r.get("ok")})
        if ok and "achieved_gflops" in ok[0]:
            g = summarize([r["achieved_gflops"] for r in ok])["median"]
            peak = peak_for(peaks, row["precision"])
            row["achieved_gflops"] = g
            row["mfu"] = g / peak if peak else None
        if ok and "elapsed_s" in ok[0] and rate_key == "sequences_per_s":
            row["seconds"] = summarize([r["elapsed_s"] for r in ok])
        out.append(row)
    group_keys = [k for k in keys if k != "label"]
    medians = {_key(r, keys): r["rate"]["median"] for r in out}

    def median_of(row, **change):
        return medians.get(tuple(change.get(k, row[k]) for k in keys))

    # paired: median over repeats of (impl / torch) within the same repeat
    torch_by_rep = {
        (_key(rec, group_keys), rec["repeat"]): rec[rate_key]
        for rec in records
        if rec.get("label") == "torch" and rec.get("ok")
    }
    for r in out:
        med = r["rate"]["median"]
        for name, change in (
            ("ratio_to_torch", {"label": "torch"}),
            ("ratio_to_torch_heap", {"label": "torch_heap"}),
            ("ratio_to_own_float32", {"precision": "float32"}),
        ):
            base = median_of(r, **change)
            r[name] = med / base if (base and med) else None
        if r["precision"] == "float32":
            r["ratio_to_own_float32"] = None
        gk = _key(r, group_keys)
        pairs = [
            rec[rate_key] / torch_by_rep[(gk, rec["repeat"])]
            for rec in records
            if rec.get("ok")
            and rec.get("label") == r["label"]
            and _key(rec, group_keys) == gk
            and (gk, rec["repeat"]) in torch_by_rep
        ]
        r["paired_ratio_to_torch"] = summarize(pairs)
    return out


# --------------------------------------------------------------------------- cells


def _fmt_rate(x):
    if x is None:
        return "n/a"
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def _short(err: str, n: int = 70) -> str:
    err = err.replace("|", "/").replace("\n", " ")
    return err if len(err) <= n else err[: n - 1] + "…"


def _rate_cells(row):
    s = row["rate"]
    if not s["n"]:
        err = row["errors"][0] if row["errors"] else "no result"
        return ["n/a", f"n/a ({_short(err)})"]
    spread = "–" if s["n"] == 1 else f"{_fmt_rate(s['min'])}–{_fmt_rate(s['max'])}"
    return [_fmt_rate(s["median"]), spread]


def _ratio(r, key="ratio_to_torch"):
    return "n/a" if r.get(key) is None else f"{r[key]:.2f}×"


def _mb(r):
    m = r["peak_rss_mb"]["median"]
    return "n/a" if m is None else f"{m:,.0f}"


def _mfu(r):
    m = r.get("mfu")
    return "n/a" if m is None else f"{100 * m:.1f}"


def _params(r):
    return "n/a" if r["params"] is None else f"{r['params']:,}"


def label_order(label):
    impl, backend = parse_label(label)
    order = {"torch": 0, "torch_heap": 1, "keras_seed": 2, "library": 3, "library_dp": 4}
    return order.get(impl, 9), BACKENDS.index(backend) if backend in BACKENDS else -1


def _ratio_heads(bf16):
    return ["vs PyTorch", "vs PyTorch+heap"] + (["vs own float32"] if bf16 else [])


def _ratio_cells(r, bf16):
    cells = [_ratio(r), _ratio(r, "ratio_to_torch_heap")]
    return cells + ([_ratio(r, "ratio_to_own_float32")] if bf16 else [])


def _table(head, lines_cells):
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in lines_cells]
    return "\n".join(lines)


# --------------------------------------------------------------------------- tables


def train_table(rows, with_length=False):
    """Rows of one cell and one precision."""
    bf16 = any(r["precision"] != "float32" for r in rows)
    head = ["model", "H", *(["L"] if with_length else [])]
    head += ["implementation", "params", "samples/s (median)", "min–max", "peak MB", "MFU %"]
    head += _ratio_heads(bf16)
    rows = sorted(
        rows,
        key=lambda r: (
            MODELS.index(r["model"]),
            r.get("length", 0),
            r["hidden"],
            label_order(r["label"]),
        ),
    )
    body = []
    for r in rows:
        cells = [r["model"], str(r["hidden"])] + ([str(r["length"])] if with_length else [])
        cells += [r["label"], _params(r), *_rate_cells(r), _mb(r), _mfu(r)]
        body.append(cells + _ratio_cells(r, bf16))
    return _table(head, body)


def generation_table(rows):
    """Rows of one cell and one precision."""
    bf16 = any(r["precision"] != "float32" for r in rows)
    head = ["strategy", "implementation", "params", "sequences/s (median)", "min–max"]
    head += [f"seconds / {GEN_SEQUENCES:,}", "peak MB", *_ratio_heads(bf16)]
    rows = sorted(rows, key=lambda r: (r["strategy"] != "greedy", label_order(r["label"])))
    body = []
    for r in rows:
        secs = r.get("seconds", {}).get("median")
        strategy = r["strategy"] if r["strategy"] == "greedy" else f"beam-{BEAM_WIDTH}"
        cells = [strategy, r["label"], _params(r), *_rate_cells(r)]
        cells += ["n/a" if secs is None else f"{secs:.2f}", _mb(r)]
        body.append(cells + _ratio_cells(r, bf16))
    return _table(head, body)


def scaling_lines(rows):
    """Time per sample at each length against the shortest, next to the linear ratio."""
    groups = {}
    for r in rows:
        if r["rate"]["median"]:
            key = (r["label"], r["model"], r["hidden"], r["cell"], r["precision"])
            groups.setdefault(key, {})[r["length"]] = r
    lines = [
        "Time per training sample relative to the shortest length (linear cost: the ratio "
        "of the lengths):"
    ]
    for (label, model, hidden, _, _), by_length in sorted(groups.items()):
        lengths = sorted(by_length)
        base = lengths[0]
        base_time = 1.0 / by_length[base]["rate"]["median"]
        parts = [
            f"L={n}: {1.0 / by_length[n]['rate']['median'] / base_time:.1f}x "
            f"(linear {n / base:.1f}x)"
            for n in lengths[1:]
        ]
        lines.append(f"- {label} {model} H={hidden}: " + "; ".join(parts))
    return lines


def param_lines(rows):
    """One line per (model, H, cell): PyTorch's count against every other implementation's
    (a precision does not change a count; a difference between precisions is shown)."""
    by = {}
    for r in rows:
        counts = by.setdefault((r["model"], r["hidden"], r["cell"]), {})
        counts.setdefault(r["label"], set()).add(r["params"])
    out = []
    for (model, hidden, cell), counts in sorted(
        by.items(), key=lambda kv: (CELLS.index(kv[0][2]), MODELS.index(kv[0][0]), kv[0][1])
    ):
        torch_counts = counts.get("torch", {None})
        torch_n = next(iter(torch_counts)) if len(torch_counts) == 1 else None
        parts = []
        for lab in sorted((lab for lab in counts if lab != "torch"), key=label_order):
            for n in sorted(counts[lab], key=lambda v: -1 if v is None else v):
                if n is None:
                    parts.append(f"{lab} n/a")
                else:
                    tag = "same" if n == torch_n else f"DIFFERS by {n - (torch_n or 0):+,}"
                    parts.append(f"{lab} {n:,} ({tag})")
        tn = "/".join("n/a" if n is None else f"{n:,}" for n in torch_counts)
        head = f"- {model} {cell.upper()} H={hidden}: PyTorch {tn}"
        out.append(head + "".join(f"; {p}" for p in parts))
    return "\n".join(out)


def _split(rows):
    """Rows by (cell, precision), in the order LSTM float32, LSTM bf16, GRU float32, ..."""
    parts = {}
    for r in rows:
        parts.setdefault((r["cell"], r["precision"]), []).append(r)
    return sorted(parts.items(), key=lambda kv: (CELLS.index(kv[0][0]), kv[0][1] != "float32"))


def _heading(title, cell, precision):
    return f"## {title}: {cell.upper()}, {PRECISION_NAMES.get(precision, precision)}"


# --------------------------------------------------------------------------- report


def markdown(meta, sections, length):
    """The report's lines (header with machine and peaks, one table per section, cell and
    precision) and the summary rows of each section."""
    peaks, settings = meta["matmul_peaks"], meta["settings"]
    f32, bf16 = peaks["float32"], peaks["bfloat16"]
    if bf16.get("peak") is None:
        bf16_text = "n/a"
    else:
        source = "the float32 peak: no bfloat16 instructions" if bf16.get("as_float32") else "torch"
        bf16_text = f"{bf16['peak']:.1f} GFLOP/s ({source})"
    md = [
        f"# seq2seq benchmarks ({meta['date']}, commit {meta['git_commit']})",
        *([f"Merged from {meta['merged_from']}.", ""] if meta.get("merged_from") else []),
        "",
        f"Machine: {describe_cpu(meta['cpu'])}.",
        "",
        f"Matrix-multiply peaks (2048x2048, all cores, best measured at the start and end "
        f"of the run): "
        f"float32 {f32['peak']:.1f} GFLOP/s, bfloat16 {bf16_text}; "
        "MFU is against the peak of the row's precision.",
        "",
        f"Batch 64, length {length}, Adam 1e-3, {settings['repeats']} interleaved repeat(s), medians; "
        "peak MB = whole-process max RSS (includes the framework's own import footprint).",
        "",
    ]
    summaries = {}
    for name, recs in sections:
        if name == "train":
            rows = summarize_rows(recs, ["label", "model", "hidden"], "samples_per_s", peaks)
            for (cell, precision), part in _split(rows):
                md += [_heading("Training throughput", cell, precision), ""]
                md += [train_table(part), ""]
            md += ["Parameter counts:", param_lines(rows), ""]
        elif name == "generation":
            rows = summarize_rows(recs, ["label", "strategy", "hidden"], "sequences_per_s", peaks)
            for (cell, precision), part in _split(rows):
                hidden = "/".join(str(h) for h in sorted({r["hidden"] for r in part}))
                title = (
                    f"Generation ({GEN_SEQUENCES:,} sequences of length {length}, token "
                    f"attention model, H={hidden}, untrained weights)"
                )
                md += [_heading(title, cell, precision), "", generation_table(part), ""]
        elif name == "scaling":
            rows = summarize_rows(
                recs, ["label", "model", "hidden", "length"], "samples_per_s", peaks
            )
            repeats = 1 + max(r.get("repeat", 0) for r in recs)
            for (cell, precision), part in _split(rows):
                title = f"Scaling ({repeats} repeat(s); input and output length L)"
                md += [_heading(title, cell, precision), ""]
                md += [train_table(part, with_length=True), "", *scaling_lines(part), ""]
        else:
            continue
        summaries[name] = rows
    md += load_lines([r for _, recs in sections for r in recs], meta["cpu"]["cores"] or 1)
    return md, summaries


def load_lines(records, ncpu):
    loads = [r[k] for r in records for k in ("load_before", "load_after") if r.get(k) is not None]
    busy = [r["busy_before"] for r in records if r.get("busy_before") is not None]
    if not busy:
        return []
    md = [
        f"CPU used by other processes just before each measurement: median "
        f"{100 * statistics.median(busy):.0f}%, max {100 * max(busy):.0f}%; 1-minute load "
        f"average {min(loads):.1f}–{max(loads):.1f} on {ncpu} cores (own measurement "
        "included)."
    ]
    if statistics.median(busy) > 0.2 or max(loads) > 1.5 * ncpu:
        md.append(
            "**Warning: other processes competed for the CPU during this run. Absolute "
            "figures are depressed, and native PyTorch (and Keras' torch backend) "
            "suffers far more than XLA from a busy machine (its threads wait at "
            "barriers for a descheduled peer), so ratios to PyTorch are not reliable. "
            "Rerun on an idle machine (`--wait-idle 120` helps).**"
        )
    return [*md, ""]


# --------------------------------------------------------------------------- files


def finish(result, sections, out_path, log):
    """Summaries and Markdown into `result`, written to `out_path`; the Markdown to stdout."""
    md, summaries = markdown(result["meta"], sections, LENGTH)
    for name, rows in summaries.items():
        result[name]["summary"] = rows
    md.append(f"_total wall time {result['meta']['total_s'] / 60:.1f} min_")
    text = "\n".join(md)
    result["markdown"] = text
    tmp_path = out_path.with_name(out_path.name + ".tmp")
    tmp_path.write_text(json.dumps(result, indent=1, default=str))
    os.replace(tmp_path, out_path)
    print(text)
    log(f"wrote {out_path}")


def merge(paths, out_path, log) -> int:
    """One report from the result files of runs made in parts (same machine).

    Records are pooled per section; the peaks are the best of all parts; dates, commits,
    arguments and the parts' own peaks are kept in `meta["parts"]`.
    """
    parts = [json.loads(Path(p).read_text()) for p in paths]
    cpus = {json.dumps(part["meta"]["cpu"], sort_keys=True) for part in parts}
    if len(cpus) != 1:
        log(f"error: the parts ran on different machines: {sorted(cpus)}")
        return 2
    first = parts[0]["meta"]
    settings = {**first["settings"]}
    for key in ("repeats",):
        values = sorted({str(part["meta"]["settings"].get(key)) for part in parts})
        settings[key] = "/".join(values)
    peaks = {}
    for precision in ("float32", "bfloat16"):
        values = [part["meta"]["matmul_peaks"][precision]["peak"] for part in parts]
        values = [v for v in values if v]
        peaks[precision] = {"peak": max(values) if values else None}
        if all(part["meta"]["matmul_peaks"][precision].get("as_float32") for part in parts):
            peaks[precision]["as_float32"] = True
    dates = sorted(part["meta"]["date"] for part in parts)
    commits = sorted({str(part["meta"]["git_commit"]) for part in parts})
    meta = {
        **first,
        "date": dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}",
        "git_commit": "/".join(commits),
        "settings": settings,
        "matmul_peaks": peaks,
        "total_s": sum(part["meta"].get("total_s", 0.0) for part in parts),
        "merged_from": ", ".join(str(p) for p in paths),
        "parts": [
            {key: part["meta"].get(key) for key in ("date", "git_commit", "argv", "matmul_peaks")}
            for part in parts
        ],
    }
    result, sections = {"meta": meta}, []
    for name in ("train", "generation", "scaling"):
        runs = [rec for part in parts for rec in part.get(name, {}).get("runs", [])]
        if runs:
            result[name] = {"runs": runs}
            sections.append((name, runs))
    finish(result, sections, out_path, log)
    return 0
