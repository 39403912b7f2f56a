"""Model names, aliases and references (NAME, NAME:VERSION, NAME@ALIAS)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from trainforge.errors import BadModelName, BadModelRef

# starts with a letter or digit, so a name is never "." or ".." or a hidden directory
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
# an alias starts with a letter, so NAME@3 is never mistaken for a version
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,99}")


def check_name(name: str) -> str:
    """``name`` if it is a safe model name (it becomes a directory), else BadModelName."""
    if not _NAME.fullmatch(name) or name.endswith("."):
        raise BadModelName(name)
    return name


def check_alias(alias: str) -> str:
    if not _ALIAS.fullmatch(alias):
        raise BadModelName(alias, what="model alias (it must also start with a letter)")
    return alias


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: ``version`` and ``alias`` are both None for "the latest version"."""

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, ref: str) -> ModelRef:
        """Read ``churn``, ``churn:3`` or ``churn@production``; BadModelRef otherwise."""
        name, at, alias = ref.partition("@")
        name, colon, version = name.partition(":")
        if not _NAME.fullmatch(name) or (at and colon):
            raise BadModelRef(ref)
        if at:
            if not _ALIAS.fullmatch(alias):
                raise BadModelRef(ref)
            return cls(name, alias=alias)
        if colon:
            if not re.fullmatch(r"[0-9]{1,9}", version) or int(version) < 1:
                raise BadModelRef(ref)
            return cls(name, version=int(version))
        return cls(name)
