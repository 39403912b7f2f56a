"""A project's classes: the names an annotator picks from (keys 1-9 pick the first nine)."""

from __future__ import annotations

from collections.abc import Sequence

from trainforge.errors import BadClasses, LabelOutsideClasses

MAX_CLASSES = 50
MAX_CLASS_CHARS = 200  # the store's column


def parse_classes(given: str | Sequence[str]) -> list[str]:
    """The class names of ``--classes a,b,c`` (or a list), checked: 2 to 50 distinct,
    non-empty names of at most 200 characters, in the order given."""
    names = [n.strip() for n in (given.split(",") if isinstance(given, str) else given)]
    if any(not n for n in names):
        raise BadClasses("has an empty name")
    if any(len(n) > MAX_CLASS_CHARS for n in names):
        raise BadClasses(f"has a name longer than {MAX_CLASS_CHARS} characters")
    if len(set(names)) != len(names):
        raise BadClasses("names a class twice")
    if not 2 <= len(names) <= MAX_CLASSES:
        raise BadClasses(f"names {len(names)} classes")
    return names


def check_label(label: str, *, project: str, classes: Sequence[str],
                where: str = "the label") -> str:
    """``label`` if it is one of ``classes``, else LabelOutsideClasses (not repeating it)."""
    if label not in classes:
        raise LabelOutsideClasses(project, classes, where)
    return label
