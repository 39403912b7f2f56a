"""Checkpoint files: safetensors + JSON, written atomically, refused with a reason when wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from trainforge.errors import CheckpointMismatch
from trainforge.runtime.checkpoints import (
    MANIFEST,
    check_compatible,
    join_optimizer_state,
    load_checkpoint,
    save_checkpoint,
    split_optimizer_state,
)

torch.set_num_threads(1)


def _saved(directory: Path, **meta: object) -> Path:
    return save_checkpoint(directory, meta={"architecture": {"kind": "mlp", "hidden": 16},
                                            "settings": {"batch_size": 32}, **meta},
                           tensors={"w": torch.arange(6.0).reshape(2, 3)})


def test_a_saved_checkpoint_loads_with_its_tensors_and_meta(tmp_path: Path):
    _saved(tmp_path, epoch=3)
    found = load_checkpoint(tmp_path)
    assert found is not None
    assert (found.meta["epoch"], found.tensors["w"].tolist()) == (3, [[0, 1, 2], [3, 4, 5]])


def test_a_directory_without_a_checkpoint_gives_none(tmp_path: Path):
    assert load_checkpoint(tmp_path) is None


def test_tied_weights_can_be_saved(tmp_path: Path):
    shared = torch.ones(3)
    save_checkpoint(tmp_path, meta={}, tensors={"encoder": shared, "decoder": shared})
    found = load_checkpoint(tmp_path)
    assert found is not None and torch.equal(found.tensors["decoder"], shared)


def test_a_new_save_leaves_one_tensors_file(tmp_path: Path):
    _saved(tmp_path, epoch=1)
    _saved(tmp_path, epoch=2)
    assert len(list(tmp_path.glob("tensors-*.safetensors"))) == 1


def test_a_tensors_file_left_by_a_crashed_save_does_not_disturb_loading(tmp_path: Path):
    _saved(tmp_path, epoch=1)
    (tmp_path / "tensors-halfwritten.safetensors").write_bytes(b"\x00" * 10)
    found = load_checkpoint(tmp_path)
    assert found is not None and found.meta["epoch"] == 1


def test_a_corrupted_tensors_file_is_refused_as_damaged(tmp_path: Path):
    _saved(tmp_path)
    tensors_file = next(tmp_path.glob("tensors-*.safetensors"))
    data = bytearray(tensors_file.read_bytes())
    data[-1] ^= 0xFF
    tensors_file.write_bytes(bytes(data))
    with pytest.raises(CheckpointMismatch, match=r"damaged: its sha256 differs.*Delete"):
        load_checkpoint(tmp_path)


def test_a_truncated_manifest_is_refused_as_not_json(tmp_path: Path):
    _saved(tmp_path)
    manifest = tmp_path / MANIFEST
    manifest.write_text(manifest.read_text()[:40])
    with pytest.raises(CheckpointMismatch, match="damaged: it is not valid JSON"):
        load_checkpoint(tmp_path)


def test_a_checkpoint_of_another_format_version_is_refused(tmp_path: Path):
    _saved(tmp_path)
    manifest = tmp_path / MANIFEST
    meta = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(CheckpointMismatch, match="format version 99"):
        load_checkpoint(tmp_path)


def test_another_architecture_is_refused_naming_the_differing_key(tmp_path: Path):
    _saved(tmp_path)
    found = load_checkpoint(tmp_path)
    assert found is not None
    with pytest.raises(CheckpointMismatch,
                       match="'hidden' is 16 in the checkpoint but 32 here"):
        check_compatible(found, architecture={"kind": "mlp", "hidden": 32},
                         settings={"batch_size": 32})


def test_a_nested_difference_is_named_by_its_dotted_key(tmp_path: Path):
    save_checkpoint(tmp_path, meta={"architecture": {"network": {"kind": "gru", "layers": 2}}},
                    tensors={})
    found = load_checkpoint(tmp_path)
    assert found is not None
    with pytest.raises(CheckpointMismatch, match=r"'network.kind' is 'gru' in the checkpoint "
                       r"but 'transformer' here, 'network.layers' is 2 in the checkpoint but 4"):
        check_compatible(found, architecture={"network": {"kind": "transformer", "layers": 4}},
                         settings={})


def test_other_loop_settings_are_refused_naming_the_setting(tmp_path: Path):
    _saved(tmp_path)
    found = load_checkpoint(tmp_path)
    assert found is not None
    with pytest.raises(CheckpointMismatch, match="settings differ: 'batch_size' is 32"):
        check_compatible(found, architecture={"kind": "mlp", "hidden": 16},
                         settings={"batch_size": 64})


@pytest.mark.slow
def test_optimizer_state_survives_the_split_into_tensors_and_json(tmp_path: Path):
    net = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    net(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    tensors, rest = split_optimizer_state(optimizer.state_dict(), prefix="opt/")
    save_checkpoint(tmp_path, meta={"optimizer": rest}, tensors=tensors)
    found = load_checkpoint(tmp_path)
    assert found is not None
    restored = torch.optim.Adam(nn.Linear(3, 2).parameters(), lr=0.01)
    restored.load_state_dict(join_optimizer_state(found.tensors, found.meta["optimizer"],
                                                  prefix="opt/"))
    assert torch.equal(restored.state_dict()["state"][0]["exp_avg_sq"],
                       optimizer.state_dict()["state"][0]["exp_avg_sq"])
