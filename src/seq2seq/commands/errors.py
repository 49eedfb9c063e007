"""The error a command reports on one line before exiting with status 2."""


class CommandError(Exception):
    """A user mistake that a command reports on one line, with no traceback.

    Data and config files have their own errors (`DataFileError`,
    `ConfigError`), reported the same way; this one covers the rest, such as a
    missing model file or a model that does not fit the data.

    Args:
        message: One line saying what is wrong, naming the file or the flag.

    Example:

    >>> from seq2seq.commands.errors import CommandError
    >>> str(CommandError("runs/x/model.keras: file not found"))
    'runs/x/model.keras: file not found'
    """

    exit_status = 2
    prefix = "error: "


class TrainingDiverged(CommandError):
    """The loss became NaN or infinite: training stopped, exit status 3."""

    exit_status = 3


class TrainingInterrupted(CommandError):
    """SIGINT or SIGTERM stopped training after a checkpoint: exit status 130 or 143.

    Args:
        message: What happened and the command that resumes the run.
        exit_status: 130 for SIGINT, 143 for SIGTERM.
    """

    prefix = ""

    def __init__(self, message: str, exit_status: int):
        super().__init__(message)
        self.exit_status = exit_status
