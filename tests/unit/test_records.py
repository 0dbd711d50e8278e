"""app.records.NamedTuple makes what typing.NamedTuple makes, without importing typing."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path

import pytest

from app.records import NamedTuple


def _pair() -> tuple[type, type]:
    """The same class statement with typing's NamedTuple and with app.records'."""
    made = []
    for base in (typing.NamedTuple, NamedTuple):

        class Window(base):  # type: ignore[misc, valid-type]
            """A usage window."""

            name: str
            used: float
            resets_at: int | None = None
            tags: tuple[str, ...] = ()

            def left(self) -> float:
                return 100 - self.used

            @property
            def label(self) -> str:
                return f"{self.name} {self.used:.0f}%"

        made.append(Window)
    return made[0], made[1]


def test_the_class_is_the_namedtuple_typing_makes() -> None:
    theirs, ours = _pair()
    assert ours.__mro__[1:] == theirs.__mro__[1:] == (tuple, object)
    for attribute in ("_fields", "_field_defaults", "__doc__", "__qualname__", "__module__"):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    # The annotations are the strings typing would wrap in ForwardRef.
    assert ours.__annotations__ == {k: v.__forward_arg__ for k, v in theirs.__annotations__.items()}
    a, b = theirs("5h", 61.0), ours("5h", 61.0)
    assert tuple(a) == tuple(b) == ("5h", 61.0, None, ())
    assert repr(a) == repr(b) == "Window(name='5h', used=61.0, resets_at=None, tags=())"
    assert b == ours("5h", 61.0) and hash(b) == hash(ours("5h", 61.0))
    assert b._replace(used=70.0).left() == a._replace(used=70.0).left() == 30.0
    assert b.label == a.label == "5h 61%"
    assert b._asdict() == a._asdict()
    with pytest.raises(AttributeError):
        b.used = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        ours()  # the fields without a default are required


@pytest.mark.parametrize("base", [typing.NamedTuple, NamedTuple])
def test_misuse_fails_as_with_typing(base: type) -> None:
    with pytest.raises(TypeError):

        class Bad(base):  # type: ignore[misc, valid-type]
            first: int = 0
            second: int

    with pytest.raises(AttributeError):

        class Worse(base):  # type: ignore[misc, valid-type]
            field: int

            def _replace(self) -> None: ...


def test_importing_it_does_not_import_typing() -> None:
    code = "import sys, app.records; print('typing' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_module_using_it_has_string_annotations() -> None:
    """The fields are read from the class body's ``__annotations__``: what ``from __future__ import
    annotations`` leaves there on every Python (3.14 without it puts ``__annotate__`` there)."""
    app = Path(__file__).resolve().parents[2] / "app"
    users = [path for path in app.rglob("*.py") if "from app.records import NamedTuple" in path.read_text()]
    assert len(users) >= 5
    assert [p.name for p in users if "from __future__ import annotations" not in p.read_text()] == []
