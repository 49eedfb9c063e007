"""The `seq2seq` command line: `train`, `evaluate`, `predict`, `tasks`, `export` and `serve`.

Mistakes in the input (a bad data or config file, a missing model, an unknown
task or flag) print one line on standard error and exit with status 2, without
a traceback.

Example:

>>> from seq2seq.cli import main
>>> main(["tasks"])  # doctest: +SKIP
reverse   char->char   20000  Reverse random strings of 5-15 letters over a 20-letter alphabet.
...
0
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from seq2seq.backend import choose_default_backend

# Keras imports TensorFlow, when installed, to save a model even on other backends;
# its oneDNN notice and info logs would fill the terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if choose_default_backend() != "tensorflow":
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from seq2seq import __version__  # noqa: E402
from seq2seq.allocator import keep_heap  # noqa: E402
from seq2seq.commands.errors import CommandError  # noqa: E402
from seq2seq.config import (
    PREDICT_BATCH_SIZE,
    SETTINGS,
    ConfigError,
    check_setting,
    load_config,
    resolve_settings,
)  # noqa: E402
from seq2seq.data.errors import DataFileError  # noqa: E402
from seq2seq.data.tasks import TASKS  # noqa: E402

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
USER_ERRORS = (DataFileError, ConfigError, CommandError)


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports a bad command line on one line, then exits with 2.

    argparse prints its usage block before the error; the help (`--help`) has it.
    """

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _parse_setting(name: str) -> Callable[[str], Any]:
    setting = SETTINGS[name]

    def parse(text: str) -> Any:
        try:
            value = setting.type(text)
        except ValueError:
            kind = "an integer" if setting.type is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {kind}, received {text!r}") from None
        try:
            return check_setting(name, value)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = setting.type.__name__
    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def _metavar(name: str) -> str:
    special = {"task": "NAME", "out": "RUN_DIR"}
    return special.get(name) or {int: "N", float: "X"}.get(SETTINGS[name].type, name.upper())


def _add_train_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train",
        help="train a model on a data file or a built-in task",
        description="Train a model and write a run folder: model.keras, config.toml, history.csv, "
        "curves.png, metrics.json (test split) and, for attention models, attention.png. "
        "Settings come from flags, then --config, then the task's defaults, then the defaults.",
    )
    parser.add_argument("--config", metavar="FILE.toml", help="read settings from a TOML file")
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue an interrupted run from its last checkpoint, with its config.toml",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh in a run folder that holds an earlier run (its files are deleted)",
    )
    for name, setting in SETTINGS.items():
        default = "" if setting.default is None else f" (default: {setting.default})"
        if name == "data":
            parser.add_argument("data", nargs="?", metavar="DATA", help=setting.help)
        elif setting.type is bool:
            parser.add_argument(
                f"--{name.replace('_', '-')}",
                dest=name,
                action=argparse.BooleanOptionalAction,
                help=setting.help + default,
            )
        else:
            parser.add_argument(
                f"--{name.replace('_', '-')}",
                dest=name,
                type=str if setting.choices else _parse_setting(name),
                choices=setting.choices,
                metavar=None if setting.choices and name != "task" else _metavar(name),
                help=setting.help + default,
            )
    parser.set_defaults(run=_run_train)


def _add_beam_flags(parser: argparse.ArgumentParser, beam_help: str) -> None:
    """`--beam` (its help says what it decodes here) and `--length-penalty`."""
    parser.add_argument(
        "--beam", type=_positive_int, default=None, metavar="N", help=beam_help
    )  # fmt: skip
    parser.add_argument(
        "--length-penalty", type=_parse_setting("length_penalty"), default=None, metavar="X",
        help="beam search: length normalisation exponent (default: the training run's, else 0)",
    )  # fmt: skip


def _add_decoding_flags(parser: argparse.ArgumentParser) -> None:
    _add_beam_flags(
        parser,
        "beam search with N beams; 1 decodes greedily (default: the training run's "
        "--beam, from config.toml next to the model, else 1)",
    )
    parser.add_argument(
        "--batch-size", type=_positive_int, default=PREDICT_BATCH_SIZE, metavar="N",
        help=f"inputs decoded together (default: {PREDICT_BATCH_SIZE})",
    )  # fmt: skip


def _add_evaluate_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a saved model on a data file or a task's test split",
        description="Score a model: exact match, token error rate, BLEU and chrF for text; "
        "MSE and MAE (and the naive forecast's) for real values. Prints a table and writes JSON.",
    )
    parser.add_argument("model", metavar="MODEL", help="a model.keras written by `seq2seq train`")
    parser.add_argument("data", nargs="?", metavar="DATA", help="a .tsv/.csv or .npz (all of it)")
    parser.add_argument("--task", choices=tuple(TASKS), metavar="NAME", help="a task's test split")
    parser.add_argument(
        "--json",
        metavar="FILE",
        help="where to write the scores (default: evaluation-<data>.json next to the model)",
    )
    _add_decoding_flags(parser)
    parser.add_argument(
        "--max-examples",
        type=_parse_setting("max_examples"),
        metavar="N",
        help="task size (default: the one the model was trained with)",
    )
    parser.add_argument(
        "--seed",
        type=_parse_setting("seed"),
        metavar="N",
        help="task seed (default: the one the model was trained with)",
    )
    parser.add_argument(
        "--skip-header", action="store_true", help="skip the data file's first line"
    )
    parser.add_argument(
        "--errors", type=_parse_setting("max_examples"), default=0, metavar="N",
        help="text: also print (and write) the first N wrong outputs with their references",
    )  # fmt: skip
    parser.set_defaults(run=_run_evaluate)


def _add_predict_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "predict",
        help="print the model's output for each input",
        description="Print one prediction per input line. Inputs come from the arguments, "
        "else --file (one per line, or array x of an .npz for real-valued models), "
        "else standard input.",
    )
    parser.add_argument("model", metavar="MODEL", help="a model.keras written by `seq2seq train`")
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="inputs")
    parser.add_argument("--file", metavar="FILE", help="read inputs from a file")
    _add_decoding_flags(parser)
    parser.add_argument(
        "--attention", metavar="FILE.png", help="draw the attention of the (first 8) inputs"
    )
    parser.set_defaults(run=_run_predict)


def _add_serve_parser(commands: argparse._SubParsersAction) -> None:
    from seq2seq.serving.limits import ServingLimits

    defaults = ServingLimits()
    parser = commands.add_parser(
        "serve",
        help="serve a text model over HTTP: a JSON API and a web page",
        description="Serve a text model: POST /predict (JSON), GET /health, the web page at / "
        "and the OpenAPI page at /docs. Requests arriving together are decoded in one batch. "
        'Needs the serve extra: pip install "keras-seq2seq[serve]".',
    )
    parser.add_argument("model", metavar="MODEL", help="a model.keras written by `seq2seq train`")
    parser.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, metavar="N", help="(default: 8000)")
    _add_beam_flags(
        parser, "beam width of requests that give none (default: the training run's, else 1)"
    )
    limits = (
        ("max_batch", "inputs decoded together at most"),
        ("max_queue", "requests waiting at most; more are answered 503"),
        ("max_inputs", "inputs per request at most (default: --max-batch)"),
        ("max_input_length", "characters or words per input at most"),
    )
    for name, text in limits:
        default = getattr(defaults, name) if name != "max_inputs" else None
        suffix = "" if default is None else f" (default: {default})"
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=_positive_int, default=default, metavar="N",
            help=text + suffix,
        )  # fmt: skip
    parser.add_argument(
        "--max-wait-ms", type=float, default=defaults.max_wait_ms, metavar="MS",
        help="how long a request waits for others to share its batch "
        f"(default: {defaults.max_wait_ms:g})",
    )  # fmt: skip
    parser.set_defaults(run=_run_serve)


def _add_export_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="export a model's whole inference (encoder and decoding) as ONNX or a SavedModel",
        description="Export the encoder and the decoding loop (greedy and beam search, or a "
        "real-valued model's outputs) with the weights, plus vocabularies.json, so that "
        "onnxruntime or TensorFlow runs them without this library. Traces on TensorFlow (a "
        'child process on other backends). Needs the export extra: pip install "keras-seq2seq[export]".',
    )
    parser.add_argument("model", metavar="MODEL", help="a model.keras written by `seq2seq train`")
    parser.add_argument(
        "--format", choices=("onnx", "saved_model"), default="onnx", help="(default: onnx)"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="the output folder")
    _add_beam_flags(
        parser,
        "width of the exported beam search; 1 exports greedy decoding only "
        "(default: the training run's --beam when above 1, else 5)",
    )
    parser.add_argument(
        "--max-length", type=_positive_int, default=None, metavar="N",
        help="output steps (default: the model's output length)",
    )  # fmt: skip
    parser.set_defaults(run=_run_export)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `seq2seq` command and its sub-commands."""
    parser = _Parser(
        prog="seq2seq",
        description="Train, evaluate and run sequence-to-sequence models on Keras 3.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.set_defaults(commands=commands.choices)
    _add_train_parser(commands)
    _add_evaluate_parser(commands)
    _add_predict_parser(commands)
    _add_serve_parser(commands)
    _add_export_parser(commands)
    tasks = commands.add_parser(
        "tasks",
        help="list the built-in tasks, or print one's settings as a config file",
        description="List the built-in tasks: name, levels, default size and description. "
        "With NAME --config, print the settings the task trains with as a TOML config file, "
        "to train them on your own data: seq2seq train DATA --config FILE.",
    )
    tasks.add_argument("name", nargs="?", metavar="NAME", help="one task (see the list)")
    tasks.add_argument(
        "--config",
        action="store_true",
        help="print the task's settings (its data, size and run folder left out) as TOML",
    )
    tasks.set_defaults(run=_run_tasks)
    return parser


def _one_source(data: Any, task: Any) -> None:
    if data is None and task is None:
        raise CommandError("give a DATA file or --task NAME (see `seq2seq tasks`)")
    if data is not None and task is not None:
        raise CommandError(f"give a DATA file or --task NAME, not both (got {data} and {task})")


def _resume_settings(args: argparse.Namespace) -> dict[str, Any]:
    given = [f"--{name.replace('_', '-')}" for name in SETTINGS if getattr(args, name) is not None]
    given += ["--config"] if args.config else []
    given += ["--overwrite"] if args.overwrite else []
    if given:
        raise CommandError(
            f"--resume takes the settings of {os.path.join(args.resume, 'config.toml')}; "
            f"remove {', '.join(given)}"
        )
    folder = args.resume
    config_path = os.path.join(folder, "config.toml")
    if not os.path.isdir(folder):
        raise CommandError(f"--resume {folder}: no such folder; expected a run folder")
    if not os.path.isfile(config_path):
        raise CommandError(
            f"--resume {folder}: not a run folder (no config.toml); "
            "expected a folder written by `seq2seq train`"
        )
    config = load_config(config_path)
    settings = resolve_settings({}, config, config.get("task"))
    settings["out"] = folder
    return settings


def _run_train(args: argparse.Namespace) -> int:
    from seq2seq.commands.train import train

    if args.resume is not None:
        return train(_resume_settings(args), resume=True)
    config = load_config(args.config) if args.config else {}
    flags = {name: getattr(args, name) for name in SETTINGS}
    if flags["data"] is not None or flags["task"] is not None:
        # A data source on the command line replaces the config file's.
        config = {key: value for key, value in config.items() if key not in ("data", "task")}
    task = flags["task"] or config.get("task")
    settings = resolve_settings(flags, config, task)
    _one_source(settings["data"], settings["task"])
    return train(settings, overwrite=args.overwrite)


def _run_evaluate(args: argparse.Namespace) -> int:
    _one_source(args.data, args.task)
    from seq2seq.commands.evaluate import evaluate

    return evaluate(
        args.model,
        args.data,
        args.task,
        json_path=args.json,
        beam=args.beam,
        batch_size=args.batch_size,
        max_examples=args.max_examples,
        seed=args.seed,
        skip_header=args.skip_header,
        length_penalty=args.length_penalty,
        errors=args.errors,
    )


def _run_predict(args: argparse.Namespace) -> int:
    if args.texts and args.file:
        raise CommandError("give inputs as arguments or with --file, not both")
    from seq2seq.commands.predict import predict

    return predict(
        args.model,
        args.texts,
        file=args.file,
        beam=args.beam,
        batch_size=args.batch_size,
        attention_path=args.attention,
        length_penalty=args.length_penalty,
    )


def _run_serve(args: argparse.Namespace) -> int:
    from seq2seq.commands.serve import serve

    return serve(
        args.model,
        host=args.host,
        port=args.port,
        beam=args.beam,
        length_penalty=args.length_penalty,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        max_queue=args.max_queue,
        max_inputs=args.max_inputs,
        max_input_length=args.max_input_length,
    )


def _run_export(args: argparse.Namespace) -> int:
    from seq2seq.commands.export import export

    return export(
        args.model,
        args.out,
        format=args.format,
        beam=args.beam,
        length_penalty=args.length_penalty,
        max_length=args.max_length,
    )


def _run_tasks(args: argparse.Namespace) -> int:
    from seq2seq.commands.tasks import show_tasks

    return show_tasks(args.name, config=args.config)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `seq2seq` command line.

    Args:
        argv: The arguments without the program name; `None` reads `sys.argv`.

    Returns:
        The exit status: 0 on success, 2 for a usage or data error (reported
        on one line of standard error), 3 when training diverged (a NaN or
        infinite loss), 130 when interrupted (Ctrl-C) and 143 on SIGTERM.
    """
    # Before Keras starts its threads; `SEQ2SEQ_KEEP_HEAP=0` turns it off.
    try:
        keep_heap()
    except ValueError as error:
        print(f"seq2seq: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # reported by the sub-command's parser, which names the command
            args.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exit:  # argparse has printed the usage error or the help
        return exit.code if isinstance(exit.code, int) else EXIT_USAGE
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except USER_ERRORS as error:
            prefix = getattr(error, "prefix", "error: ")
            print(f"seq2seq {args.command}: {prefix}{error}", file=sys.stderr)
            return getattr(error, "exit_status", EXIT_USAGE)
        except KeyboardInterrupt:
            print(f"seq2seq {args.command}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
