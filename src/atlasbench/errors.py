"""The one exception type users see: bad input, named by file, line or field."""

from __future__ import annotations

from os import PathLike


class AtlasbenchError(Exception):
    """A problem with the user's input or study that the user can fix.

    The message names where the problem is (a file and line, or a config field) and
    what was expected there. The CLI prints it without a traceback.
    """


def input_error(path: str | PathLike[str], message: str, line: int | None = None) -> AtlasbenchError:
    """Build an :class:`AtlasbenchError` located in a file (and optionally a line).

    Parameters
    ----------
    path
        The file the problem was found in.
    message
        What is wrong and what was expected.
    line
        1-based line number, when the problem sits on one line.

    Returns
    -------
    AtlasbenchError
        Ready to raise.
    """
    where = f"{path}:{line}" if line is not None else f"{path}"
    return AtlasbenchError(f"{where}: {message}")
