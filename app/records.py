"""``NamedTuple`` for the modules ``pi-tui token`` and ``usage --short`` load, without ``typing``.

Importing :mod:`typing` costs about a sixth of ``python -c pass`` (3.5 ms of 21 on the
benchmark machine), more than the rest of ``pi-tui usage --short``. Type checkers see
:class:`typing.NamedTuple` itself; at run time the class statement makes the same
:func:`collections.namedtuple` that ``typing.NamedTuple`` makes (fields from the annotations,
defaults from the assignments, the methods and docstring of the body), with the annotations kept
as the strings ``from __future__ import annotations`` leaves.

Modules off those paths import ``typing.NamedTuple`` as usual.
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers know the name)
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    # What the namedtuple makes itself; a class body may not replace it (as with typing's).
    _OWN = frozenset(
        {"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults", "_make"}
        | {"_replace", "_asdict", "_source"}
    )
    _KEPT = frozenset({"__module__", "__name__", "__annotations__"})

    class _NamedTupleMeta(type):
        def __new__(mcls, typename, bases, namespace):
            if bases == ():
                return super().__new__(mcls, typename, bases, namespace)
            if bases != (NamedTuple,):
                raise TypeError("a NamedTuple can only inherit from NamedTuple")
            annotations = namespace.get("__annotations__", {})
            defaults = [name for name in annotations if name in namespace]
            if defaults != list(annotations)[len(annotations) - len(defaults) :]:
                raise TypeError(f"{typename}: a field without a default follows one with a default")
            record = collections.namedtuple(
                typename,
                list(annotations),
                defaults=[namespace[name] for name in defaults],
                module=namespace["__module__"],
            )
            record.__annotations__ = record.__new__.__annotations__ = dict(annotations)
            for key, value in namespace.items():
                if key in _OWN:
                    raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
                if key not in _KEPT and key not in record._fields:
                    setattr(record, key, value)
            return record

    class NamedTuple(metaclass=_NamedTupleMeta):
        """Subclass it as :class:`typing.NamedTuple`; what is made is a plain namedtuple class."""
