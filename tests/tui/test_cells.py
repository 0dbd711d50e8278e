"""The status panel's columns (app.tui.widgets.cells): what Rich's Table.grid drew, built directly."""

from __future__ import annotations

from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from app.tui.widgets.cells import Justify, fit, row, widths

GREEN = Style(color="green")
CURSOR = Style(bgcolor="blue")


def test_a_cell_is_cut_with_an_ellipsis_or_padded_in_its_own_style() -> None:
    assert fit(Text("Anthropic"), 6).plain == "Anthr…"
    padded = fit(Text("ok", style=GREEN), 5)
    assert padded.plain == "ok   " and padded.style == GREEN
    assert fit(Text("59m "), 6, "right").plain == "   59m"


def test_the_flexible_column_takes_what_is_left() -> None:
    assert widths([8, 5, 3, 6], flexible=2, total=40) == [8, 5, 18, 6]  # 3 spaces between 4 columns


def test_too_narrow_the_widest_columns_give_up_cells_first() -> None:
    assert widths([20, 5, 3], flexible=2, total=20) == [12, 5, 1]
    assert widths([20, 5, 3], flexible=2, total=3) == [1, 1, 1]


def test_lines_draw_as_rich_table_grid_drew_them() -> None:
    """Same text and styles, cell by cell, as the Table.grid the list used to render."""
    console = Console(width=60, color_system="truecolor", legacy_windows=False)
    header = Style(bold=True)
    cells = [
        [Text("Provider", style=header), Text("State", style=header), Text("Account", style=header)],
        [Text("> Anthropic (Claude Pro/Max)"), Text("● ok", style=GREEN), Text("someone@example.com" * 3)],
        [Text("  GitHub Copilot"), Text("● due"), Text("")],
    ]
    justify: list[Justify] = ["left", "left", "right"]
    natural = [max(line[i].cell_len for line in cells) for i in range(2)] + [0]
    sized = widths(natural, flexible=2, total=60)
    table = Table.grid(padding=(0, 1), expand=True)
    for i, how in enumerate(justify):
        table.add_column(
            width=None if i == 2 else natural[i],
            ratio=1 if i == 2 else None,
            no_wrap=True,
            overflow="ellipsis",
            justify=how,
        )
    for index, line in enumerate(cells):
        table.add_row(*line, style=CURSOR if index == 1 else None)
    built = [
        row(
            [fit(cell, w, how) for cell, w, how in zip(line, sized, justify, strict=True)],
            CURSOR if i == 1 else "",
        )
        for i, line in enumerate(cells)
    ]

    def drawn(renderable: Table | Text) -> list[list[tuple[str, Style]]]:
        lines = console.render_lines(renderable, console.options)
        return [[(char, seg.style or Style()) for seg in line for char in seg.text] for line in lines]

    assert [cell for text in built for cell in drawn(text)] == drawn(table)
