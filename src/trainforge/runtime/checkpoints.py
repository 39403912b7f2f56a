"""Checkpoints of the PyTorch loop: tensors in safetensors, everything else in JSON, never pickle.

A checkpoint directory holds ``checkpoint.json`` and the one ``tensors-*.safetensors`` file it
names (with that file's sha256). A save writes the tensors to a new file, then replaces the JSON
(temporary file, fsync, rename), and only then deletes the previous tensors: a crash at any
moment leaves either the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from trainforge.errors import CheckpointMismatch

FORMAT_VERSION = 1
MANIFEST = "checkpoint.json"


@dataclass(frozen=True)
class Checkpoint:
    """What one checkpoint holds: ``meta`` (JSON) and ``tensors`` (on the CPU)."""

    path: Path  # the manifest, for error messages
    meta: dict[str, Any]
    tensors: dict[str, torch.Tensor]


def save_checkpoint(directory: Path, *, meta: Mapping[str, Any],
                    tensors: Mapping[str, torch.Tensor]) -> Path:
    """Write a checkpoint atomically into ``directory``; returns the manifest's path."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = save_tensors(_storable(tensors))
    tensors_name = f"tensors-{uuid.uuid4().hex[:12]}.safetensors"
    _write_atomically(directory / tensors_name, payload)
    manifest = {**meta, "format_version": FORMAT_VERSION, "tensors_file": tensors_name,
                "tensors_sha256": hashlib.sha256(payload).hexdigest()}
    _write_atomically(directory / MANIFEST, json.dumps(manifest, indent=1).encode())
    for stale in directory.glob("tensors-*.safetensors"):
        if stale.name != tensors_name:  # also sweeps files left by a save that crashed
            stale.unlink(missing_ok=True)
    return directory / MANIFEST


def load_checkpoint(directory: Path) -> Checkpoint | None:
    """The checkpoint in ``directory``, or None when there is none.

    Raises:
        CheckpointMismatch: the files are damaged or were written by another format version.
    """
    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise _damaged(path, f"it is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or "tensors_file" not in meta:
        raise _damaged(path, "it does not describe a checkpoint (no 'tensors_file')")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointMismatch(str(path), f"it has format version {meta.get('format_version')},"
                                 f" this trainforge reads version {FORMAT_VERSION}")
    tensors_path = directory / str(meta["tensors_file"])
    try:
        payload = tensors_path.read_bytes()
    except OSError as exc:
        raise _damaged(tensors_path, f"it cannot be read ({exc.strerror})") from exc
    if hashlib.sha256(payload).hexdigest() != meta.get("tensors_sha256"):
        raise _damaged(tensors_path, "its sha256 differs from the one checkpoint.json recorded")
    try:
        tensors = load_tensors(payload)
    except SafetensorError as exc:
        raise _damaged(tensors_path, f"it is not a safetensors file ({exc})") from exc
    return Checkpoint(path=path, meta=meta, tensors=tensors)


def check_compatible(checkpoint: Checkpoint, *, architecture: Mapping[str, Any] | None,
                     settings: Mapping[str, Any]) -> None:
    """Refuse a checkpoint written for another network or other loop settings.

    Raises:
        CheckpointMismatch: naming every key that differs, e.g. "the architecture differs:
            'kind' is 'gru' in the checkpoint but 'transformer' here".
    """
    problems = []
    stored_arch = checkpoint.meta.get("architecture") or {}
    arch_diff = describe_differences(stored_arch, dict(architecture or {}))
    if arch_diff:
        problems.append(f"the architecture differs: {arch_diff}")
    settings_diff = describe_differences(checkpoint.meta.get("settings") or {}, dict(settings))
    if settings_diff:
        problems.append(f"the training settings differ: {settings_diff}")
    if problems:
        raise CheckpointMismatch(str(checkpoint.path), "; ".join(problems))


def describe_differences(stored: Mapping[str, Any], given: Mapping[str, Any]) -> str:
    """A readable diff of two JSON-able mappings ("" when equal); nested keys are dotted:
    "'network.layers' is 2 in the checkpoint but 4 here"."""
    return ", ".join(_differences(stored, json.loads(json.dumps(given)), prefix=""))


def _differences(stored: Mapping[str, Any], given: Mapping[str, Any], *,
                 prefix: str) -> list[str]:
    parts = []
    for key in sorted(set(stored) | set(given), key=str):
        name = f"{prefix}{key}"
        if key not in given:
            parts.append(f"{name!r} is {stored[key]!r} in the checkpoint but not given here")
        elif key not in stored:
            parts.append(f"{name!r} is {given[key]!r} here but absent from the checkpoint")
        elif isinstance(stored[key], dict) and isinstance(given[key], dict):
            parts += _differences(stored[key], given[key], prefix=f"{name}.")
        elif stored[key] != given[key]:
            parts.append(f"{name!r} is {stored[key]!r} in the checkpoint but {given[key]!r} here")
    return parts


def split_optimizer_state(state: Mapping[str, Any], *,
                          prefix: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into its tensors and a JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, per_param in state["state"].items():
        plain[str(index)] = {}
        for name, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}{index}/{name}"] = value
            else:
                plain[str(index)][name] = value
    return tensors, {"state": plain, "param_groups": state["param_groups"]}


def join_optimizer_state(tensors: Mapping[str, torch.Tensor], plain: Mapping[str, Any], *,
                         prefix: str) -> dict[str, Any]:
    """The inverse of ``split_optimizer_state``: a dict for ``optimizer.load_state_dict``."""
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in plain["state"].items()}
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, name = key[len(prefix):].split("/", 1)
            state[int(index)][name] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def prefixed(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors whose key starts with ``prefix``, with the prefix removed."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def _storable(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous, and no two tensors sharing memory (safetensors refuses tied weights)."""
    seen: set[int] = set()
    out = {}
    for key, tensor in tensors.items():
        cpu = tensor.detach().to("cpu").contiguous()
        where = cpu.untyped_storage().data_ptr()
        out[key] = cpu.clone() if where in seen and cpu.numel() else cpu
        seen.add(where)
    return out


def _write_atomically(path: Path, payload: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(temporary, "wb") as file:
        file.write(payload)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    if os.name == "posix":  # the rename itself is durable only once the directory is synced
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _damaged(path: Path, detail: str) -> CheckpointMismatch:
    return CheckpointMismatch(str(path), f"the checkpoint is damaged: {detail}. Delete "
                              f"{path.parent} to train from the start")
