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
