"""Cells in columns, one Text per line: how the status panel's list and details are laid out.

Their lines are cells one space apart, each cut with an ellipsis or padded to its column's width,
as Rich's ``Table.grid(padding=(0, 1))`` draws them; built directly, they cost no table
measuring and rendering every cell on every draw, which the first frame would wait for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from rich.style import Style
from rich.text import Text

Justify = Literal["left", "right"]


def fit(text: Text, width: int, justify: Justify = "left") -> Text:
    """``text`` as one line of exactly ``width`` cells: cut with an ellipsis, or padded in its style."""
    cell = text.copy()
    if justify == "right":
        cell.rstrip()
        cell.truncate(width, overflow="ellipsis")
        cell.pad_left(width - cell.cell_len)
    else:
        cell.truncate(width, overflow="ellipsis", pad=True)
    return cell


def row(cells: Sequence[Text], style: Style | str = "") -> Text:
    """One line of fitted cells, a space apart; ``style`` lies under all of it (a cursor's background)."""
    line = Text(" ").join(cells)
    line.style = style
    return line


def widths(natural: Sequence[int], flexible: int, total: int) -> list[int]:
    """The columns' widths in ``total`` cells (less the spaces between them): each its
    ``natural`` width, the one at index ``flexible`` taking what is left (at least a cell).

    When even that does not fit, the widest columns give up cells first.
    """
    room = total - (len(natural) - 1)
    sized = list(natural)
    sized[flexible] = max(1, room - (sum(natural) - natural[flexible]))
    while sum(sized) > max(room, len(sized)):
        widest = max(range(len(sized)), key=sized.__getitem__)
        sized[widest] -= 1
    return sized
