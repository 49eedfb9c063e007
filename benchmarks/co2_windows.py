"""co2: how each window is prepared for the model, measured on validation MAE.

Trains the `co2` task's recipe (`seq2seq tasks co2 --config`) with the
library's `build_model`, but prepares the windows here, so that preparations
the command line does not offer can be compared with `relative = true`:

* `--prep last`: subtract the window's last week (what `relative` does);
  `mean`: subtract the window's mean; `linear`: subtract the window's own
  least-squares line, extended over the 52 output weeks.
* `--scale S`: multiply the prepared values by `S` (the relative changes are
  about 0.1 of the series' standard deviation).
* `--aug-trend R`: add to each training window, anew each epoch, a random
  line through its last week with a slope of standard deviation `R` ppm/year,
  continued over its targets.
* `--loss mae`: train on the MAE instead of the MSE.
* `--input-length N`: input windows of `N` weeks instead of 104 (the
  validation and test targets stay the same; Holt-Winters is fitted on the
  longer windows too).
* `--enso`: a second input feature, the El Niño index of
  `seq2seq.data.tasks.co2.enso_anomaly` over the input weeks, passed through
  unprepared; the targets stay CO2 alone. `--enso-scale S` multiplies it by
  `S`; `--dropout D` trains with that dropout rate.
* `--ridge`: instead of the model, ridge regression from the prepared CO2
  inputs (and every 4th week of the covariate, from the last) to the 52
  prepared targets, its penalty chosen on validation MAE (not this library:
  how much a linear forecast gets from the same windows).

Each epoch prints the validation MAE in ppm; the epoch with the lowest one is
kept and the last line (JSON) gives its test MAE, and the MAE of Holt-Winters
(`seq2seq.forecast_baselines`) fitted on the same validation and test input
windows, in the same run. docs/results.md has the results.

    KERAS_BACKEND=jax python -m benchmarks.co2_windows --prep last --scale 5 --seed 1
    KERAS_BACKEND=jax python -m benchmarks.co2_windows --enso --seed 2
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from seq2seq.commands.train import build_model, seed_everything
from seq2seq.config import resolve_settings
from seq2seq.data.tasks.co2 import INPUT_LENGTH, OUTPUT_LENGTH, SEASON_LENGTH, load_co2
from seq2seq.forecast_baselines import holt_winters


def baselines(x: np.ndarray, prep: str) -> tuple[np.ndarray, np.ndarray]:
    """What is subtracted from each window's inputs and targets: `(n, in_len)`, `(n, out_len)`."""
    length = x.shape[1]
    if prep in ("last", "mean"):
        level = x[:, -1:] if prep == "last" else x.mean(1, keepdims=True)
        return np.repeat(level, length, 1), np.repeat(level, OUTPUT_LENGTH, 1)
    t_in = np.arange(length, dtype=np.float64)
    t_out = np.arange(length, length + OUTPUT_LENGTH, dtype=np.float64)
    centred = t_in - t_in.mean()
    slope = (x * centred).sum(1, keepdims=True) / (centred**2).sum()
    intercept = x.mean(1, keepdims=True)
    return intercept + slope * centred, intercept + slope * (t_out - t_in.mean())


def holt_winters_mae(x: np.ndarray, y: np.ndarray, std: float) -> float:
    """Holt-Winters' MAE in ppm, fitted on the CO2 feature of each input window."""
    forecast, _ = holt_winters(x[..., :1], OUTPUT_LENGTH, SEASON_LENGTH)
    return float(np.abs(forecast - y).mean() * std)


RIDGE_PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


def ridge_maes(splits: dict, std: float, scale: float) -> tuple[float, float, float]:
    """Ridge regression's validation and test MAE in ppm, and the penalty chosen on validation."""

    def features(part: dict) -> np.ndarray:
        covariate = part["x"][:, ::-4, 1:].reshape(len(part["x"]), -1)  # every 4th week
        return np.concatenate([part["x"][..., 0], covariate], axis=1).astype(np.float64)

    train = features(splits["train"])
    mean = train.mean(0)
    design = np.c_[train - mean, np.ones(len(train))]
    best = (np.inf, np.inf, 0.0)
    for penalty in RIDGE_PENALTIES:
        gram = design.T @ design + penalty * np.eye(design.shape[1])
        weights = np.linalg.solve(gram, design.T @ splits["train"]["y"][..., 0])
        maes = []
        for name in ("validation", "test"):
            part = splits[name]
            x = features(part)
            predicted = np.c_[x - mean, np.ones(len(x))] @ weights
            maes.append(float(np.abs(predicted / scale + part["base"] - part["target"]).mean()))
        if maes[0] * std < best[0]:
            best = (maes[0] * std, maes[1] * std, penalty)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prep", choices=("last", "mean", "linear"), default="last")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--aug-trend", type=float, default=0.0)
    parser.add_argument("--loss", choices=("mse", "mae"), default="mse")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's 30")
    parser.add_argument("--input-length", type=int, default=INPUT_LENGTH)
    parser.add_argument("--enso", action="store_true")
    parser.add_argument("--enso-scale", type=float, default=1.0)
    parser.add_argument("--dropout", type=float, default=None, help="default: the recipe's 0")
    parser.add_argument("--ridge", action="store_true")
    args = parser.parse_args()

    data = load_co2(None, 0, input_length=args.input_length, enso=args.enso)
    std = data["scaling"]["std"]
    splits = {}
    for name in ("train", "validation", "test"):
        x, y = data[name]["x"], data[name]["y"][..., 0]
        base_in, base_out = baselines(x[..., 0].astype(np.float64), args.prep)
        series = ((x[..., 0] - base_in) * args.scale)[..., None]
        splits[name] = {
            # Any covariate (the El Niño index) follows CO2 unprepared.
            "x": np.concatenate([series, x[..., 1:] * args.enso_scale], axis=-1).astype(np.float32),
            "y": ((y - base_out) * args.scale)[..., None].astype(np.float32),
            "base": base_out,
            "target": y,
            "raw": x,
        }
    holt = {
        name: holt_winters_mae(splits[name]["raw"], splits[name]["target"][..., None], std)
        for name in ("validation", "test")
    }
    if args.ridge:
        validation, test, penalty = ridge_maes(splits, std, args.scale)
        report(args, holt, validation, test, {"penalty": penalty})
        return
    given = {"seed": args.seed, "epochs": args.epochs, "dropout": args.dropout}
    settings = resolve_settings(given, task="co2")
    seed_everything(args.seed)
    train = splits["train"]
    steps = -(-len(train["x"]) // settings["batch_size"])
    shapes = {"input_dim": train["x"].shape[-1], "output_dim": 1, "output_length": OUTPUT_LENGTH}
    model = build_model(settings, shapes, text=False, steps_per_epoch=steps)
    if args.loss != "mse":
        model.compile(optimizer=model.optimizer, loss=args.loss)

    def mae(name: str) -> float:
        part = splits[name]
        predicted = model.predict(part["x"], batch_size=256, verbose=0)[..., 0]
        return float(np.abs(predicted / args.scale + part["base"] - part["target"]).mean() * std)

    rng = np.random.default_rng(args.seed)
    best, best_epoch, best_weights = np.inf, 0, None
    started = time.perf_counter()
    for epoch in range(settings["epochs"]):
        order = rng.permutation(len(train["x"]))
        x, y = train["x"][order], train["y"][order]
        if args.aug_trend:
            slope = rng.normal(0.0, args.aug_trend / 52 / std, (len(x), 1)) * args.scale
            steps_in = np.arange(1 - args.input_length, 1)
            x = x.copy()
            x[..., 0] += (slope * steps_in).astype(np.float32)
            y = y + (slope * np.arange(1, OUTPUT_LENGTH + 1))[..., None].astype(np.float32)
        model.fit(x, y, batch_size=settings["batch_size"], epochs=1, shuffle=False, verbose=0)
        validation = mae("validation")
        print(f"epoch {epoch + 1} validation MAE {validation:.4f} ppm", flush=True)
        if validation < best:
            best, best_epoch, best_weights = validation, epoch + 1, model.get_weights()
    model.set_weights(best_weights)
    seconds = time.perf_counter() - started
    extra = {"best_epoch": best_epoch, "seconds": round(seconds)}
    report(args, holt, best, mae("test"), extra)


def report(
    args: argparse.Namespace, holt: dict[str, float], validation: float, test: float, extra: dict
) -> None:
    """Prints the result line (JSON): the MAEs in ppm, Holt-Winters' on the same windows."""
    result = {
        **vars(args),
        **extra,
        "validation_mae": round(validation, 4),
        "test_mae": round(test, 4),
        "validation_holt_winters_mae": round(holt["validation"], 4),
        "test_holt_winters_mae": round(holt["test"], 4),
        "test_mae_relative_to_holt_winters": round(test / holt["test"], 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
