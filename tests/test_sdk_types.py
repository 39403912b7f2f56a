"""The SDK is typed for its users: an editor and mypy know what every call returns."""

from __future__ import annotations

import inspect
import re

import trainforge as tf

ANY = re.compile(r"\bAny\b")


def _public_annotations(name: str) -> dict[str, str]:
    """Every annotation a user meets through ``tf.<name>``: a function's parameters and return,
    a class's public methods and properties."""
    found: dict[str, str] = {}
    exported = getattr(tf, name)
    members = ([(name, exported)] if not inspect.isclass(exported) else
               [(f"{name}.{attr}", value) for attr, value in inspect.getmembers(exported)
                if not attr.startswith("_")])
    for where, member in members:
        function = member.fget if isinstance(member, property) else member
        for key, annotation in getattr(function, "__annotations__", {}).items():
            found[f"{where}:{key}"] = str(annotation)
    return found


def test_no_public_signature_or_result_attribute_of_the_sdk_is_any():
    annotations = {where: text for name in tf.__all__ if name != "__version__"
                   for where, text in _public_annotations(name).items()}
    assert {where: text for where, text in annotations.items() if ANY.search(text)} == {}
    assert annotations["evaluate:return"] == "Evaluation"
