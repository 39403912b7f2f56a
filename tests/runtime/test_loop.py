"""The PyTorch loop: learns, stops, restores the best weights, checkpoints and resumes exactly."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from trainforge.errors import CheckpointMismatch
from trainforge.runtime.loop import (
    Decision,
    EpochState,
    FitHistory,
    LoopConfig,
    TensorData,
    Trainer,
)

torch.set_num_threads(1)
ARCH = {"kind": "mlp", "hidden": 16}


def _blobs(rows: int, *, seed: int) -> TensorData:
    """Two Gaussian blobs 4 standard deviations apart: separable, but not in one step."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (rows,), generator=g)
    points = torch.randn(rows, 2, generator=g) + 2.0 * (labels.float() * 2 - 1).unsqueeze(1)
    return TensorData(inputs=(points,), targets=labels)


TRAIN, VALID = _blobs(160, seed=1), _blobs(80, seed=2)


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))


def _accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return float((outputs.argmax(1) == targets).float().mean())


def _jitter(inputs: tuple[torch.Tensor, ...], g: torch.Generator) -> tuple[torch.Tensor, ...]:
    return (inputs[0] + 0.1 * torch.randn(inputs[0].shape, generator=g),)


class _OnCall:
    """An augmentation that jitters, and at its ``at``-th call does ``action`` (a step hook)."""

    def __init__(self, at: int, action: str) -> None:
        self.at, self.action, self.calls = at, action, 0

    def __call__(self, inputs: tuple[torch.Tensor, ...],
                 g: torch.Generator) -> tuple[torch.Tensor, ...]:
        self.calls += 1
        if self.calls == self.at and self.action == "sigint":
            signal.raise_signal(signal.SIGINT)
        if self.calls == self.at and self.action == "crash":
            raise RuntimeError("the worker died")
        return _jitter(inputs, g)


CONFIG = LoopConfig(max_epochs=4, batch_size=32, device="cpu", learning_rate=0.02,
                    weight_decay=0.01, patience=10)  # 5 batches an epoch


def _fit(module: nn.Module, config: LoopConfig = CONFIG, **options: object) -> FitHistory:
    trainer = Trainer(module, config, score=_accuracy, architecture=ARCH, **options)  # type: ignore[arg-type]
    return trainer.fit(TRAIN, VALID)


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                 b.state_dict().values(), strict=True))


def _curve(history: FitHistory) -> list[tuple[object, ...]]:
    return [(e.epoch, e.step, e.train_loss, e.val_loss, e.val_score, e.learning_rate)
            for e in history.epochs]


def test_the_loop_learns_a_small_separable_problem():
    net = _net()
    _fit(net, LoopConfig(max_epochs=10, batch_size=32, device="cpu", learning_rate=0.02))
    trainer = Trainer(net, CONFIG)
    assert _accuracy(trainer.predict(VALID.inputs), VALID.targets) > 0.95


def test_a_bce_loop_learns_from_one_logit_per_row():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    config = LoopConfig(max_epochs=10, batch_size=32, loss="bce", device="cpu",
                        learning_rate=0.02)
    train = TensorData(TRAIN.inputs, TRAIN.targets.float())
    trainer = Trainer(net, config)
    trainer.fit(train)
    predicted = (trainer.predict(VALID.inputs).flatten() > 0).long()
    assert float((predicted == VALID.targets).float().mean()) > 0.95


def test_the_same_seed_gives_identical_weights():
    first, second = _net(seed=0), _net(seed=0)
    _fit(first, augment=_jitter)
    _fit(second, augment=_jitter)
    assert _same_weights(first, second)


def test_early_stopping_restores_the_best_weights():
    scores = iter([0.5, 0.9, 0.6, 0.7, 0.6, 0.8])
    kept: dict[int, dict[str, torch.Tensor]] = {}
    net = _net()

    class KeepWeights:
        def on_epoch_end(self, state: EpochState) -> None:
            kept[state.epoch] = {k: v.clone() for k, v in net.state_dict().items()}

    trainer = Trainer(net, LoopConfig(max_epochs=10, batch_size=32, device="cpu", patience=3),
                      score=lambda outputs, targets: next(scores), callbacks=[KeepWeights()])
    history = trainer.fit(TRAIN, VALID)
    assert (history.stopped_because, history.best_epoch, len(history.epochs)) == (
        "early_stopping", 2, 5)
    assert all(torch.equal(v, kept[2][k]) for k, v in net.state_dict().items())


def test_a_score_where_lower_is_better_keeps_the_lowest_epoch():
    scores = iter([0.5, 0.2, 0.4, 0.3])
    trainer = Trainer(_net(), CONFIG, score=lambda outputs, targets: next(scores),
                      greater_is_better=False)
    assert trainer.fit(TRAIN, VALID).best_epoch == 2


def test_without_validation_the_last_epoch_is_the_best():
    history = Trainer(_net(), CONFIG).fit(TRAIN)
    assert (history.best_epoch, history.stopped_because) == (4, "max_epochs")


def test_a_callback_can_stop_training():
    class StopAfterTwo:
        def on_epoch_end(self, state: EpochState) -> Decision:
            return Decision.STOP if state.epoch == 2 else Decision.CONTINUE

    history = _fit(_net(), callbacks=[StopAfterTwo()])
    assert (history.stopped_because, len(history.epochs)) == ("callback", 2)


def test_callbacks_hear_the_start_and_the_end_of_the_fit():
    heard: list[object] = []

    class Listener:
        def on_fit_start(self, config: LoopConfig) -> None:
            heard.append(config)

        def on_fit_end(self, history: FitHistory) -> None:
            heard.append(history.stopped_because)

    _fit(_net(), callbacks=[Listener()])
    assert heard == [CONFIG, "max_epochs"]


def test_stop_at_ends_the_fit_once_the_deadline_passes():
    # a constant rate: a per-step schedule would shrink to the deadline and stop improving first
    config = LoopConfig(max_epochs=10_000, batch_size=32, device="cpu", schedule="constant")
    started = time.monotonic()
    history = Trainer(_net(), config).fit(TRAIN, VALID, stop_at=started + 0.5)
    assert history.stopped_because == "time"
    assert time.monotonic() - started < 2.0


def test_a_deadline_passed_mid_epoch_stops_at_the_next_step():
    def slow(inputs: tuple[torch.Tensor, ...], g: torch.Generator) -> tuple[torch.Tensor, ...]:
        time.sleep(0.05)
        return inputs

    history = Trainer(_net(), CONFIG, augment=slow).fit(TRAIN, VALID,
                                                        stop_at=time.monotonic() + 0.08)
    assert (history.stopped_because, len(history.epochs)) == ("time", 1)
    assert history.epochs[0].step < 5  # of the epoch's 5 batches


@pytest.mark.parametrize(("optimizer", "schedule"), [("adamw", "cosine"), ("sgd", "onecycle"),
                                                     ("adam", "plateau")])
def test_resuming_after_an_interruption_mid_epoch_equals_the_uninterrupted_run(
        tmp_path: Path, optimizer: str, schedule: str):
    config = LoopConfig(**{**CONFIG.to_dict(), "optimizer": optimizer, "schedule": schedule})
    reference = _net()
    expected = _fit(reference, config, augment=_jitter)
    with pytest.raises(KeyboardInterrupt):
        _fit(_net(), config, augment=_OnCall(at=8, action="sigint"), checkpoint_dir=tmp_path)
    resumed = _net(seed=99)  # a fresh process builds a fresh network: the checkpoint decides
    history = _fit(resumed, config, augment=_jitter, checkpoint_dir=tmp_path)
    assert (_curve(history), history.resumed_at_step) == (_curve(expected), 8)
    assert _same_weights(resumed, reference)


def test_a_sigint_leaves_a_checkpoint_at_the_step_it_stopped(tmp_path: Path):
    with pytest.raises(KeyboardInterrupt):
        _fit(_net(), augment=_OnCall(at=3, action="sigint"), checkpoint_dir=tmp_path)
    manifest = (tmp_path / "checkpoint.json").read_text()
    assert '"step": 3' in manifest and '"complete": false' in manifest


def test_the_previous_sigint_handler_is_back_after_the_fit():
    before = signal.getsignal(signal.SIGINT)
    _fit(_net())
    assert signal.getsignal(signal.SIGINT) is before


def test_a_crash_resumes_from_the_last_periodic_checkpoint_to_the_same_weights(tmp_path: Path):
    config = LoopConfig(**{**CONFIG.to_dict(), "checkpoint_every_steps": 3})
    reference = _net()
    _fit(reference, config, augment=_jitter)
    with pytest.raises(RuntimeError, match="the worker died"):
        _fit(_net(), config, augment=_OnCall(at=9, action="crash"), checkpoint_dir=tmp_path)
    resumed = _net(seed=5)
    history = _fit(resumed, config, augment=_jitter, checkpoint_dir=tmp_path)
    assert history.resumed_at_step == 6  # the crash hit step 9, before its checkpoint
    assert _same_weights(resumed, reference)


def test_a_complete_checkpoint_returns_its_history_without_training(tmp_path: Path):
    trained = _net()
    expected = _fit(trained, checkpoint_dir=tmp_path)
    epochs_seen: list[int] = []

    class Count:
        def on_epoch_end(self, state: EpochState) -> None:
            epochs_seen.append(state.epoch)

    again = _net(seed=3)
    history = _fit(again, checkpoint_dir=tmp_path, callbacks=[Count()])
    assert (history, epochs_seen) == (expected, [])
    assert _same_weights(again, trained)


def test_a_checkpoint_of_another_architecture_is_refused_naming_the_difference(tmp_path: Path):
    _fit(_net(), checkpoint_dir=tmp_path)
    other = Trainer(_net(), CONFIG, architecture={"kind": "mlp", "hidden": 32},
                    checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointMismatch, match="'hidden' is 16 in the checkpoint but 32 here"):
        other.fit(TRAIN, VALID)


def test_a_checkpoint_with_another_batch_size_is_refused(tmp_path: Path):
    _fit(_net(), checkpoint_dir=tmp_path)
    config = LoopConfig(**{**CONFIG.to_dict(), "batch_size": 16})
    with pytest.raises(CheckpointMismatch, match="'batch_size' is 32 in the checkpoint but 16"):
        _fit(_net(), config, checkpoint_dir=tmp_path)


def test_a_frozen_backbone_keeps_its_weights():
    net = _net()
    backbone = net[0].weight.clone()
    Trainer(net, CONFIG, trainable=net[3].parameters()).fit(TRAIN)
    assert torch.equal(net[0].weight, backbone)


def test_the_modules_requires_grad_flags_are_back_after_a_frozen_backbone_fit():
    net = _net()
    Trainer(net, CONFIG, trainable=net[3].parameters()).fit(TRAIN)
    assert all(p.requires_grad for p in net.parameters())


def test_parameters_outside_trainable_get_no_gradients():
    net = _net()
    Trainer(net, CONFIG, trainable=net[3].parameters()).fit(TRAIN)
    assert net[0].weight.grad is None


def test_bfloat16_autocast_on_the_cpu_still_learns():
    net = _net()
    config = LoopConfig(max_epochs=10, batch_size=32, device="cpu", learning_rate=0.02,
                        mixed_precision=True)
    trainer = Trainer(net, config)
    trainer.fit(TRAIN)
    assert _accuracy(trainer.predict(VALID.inputs), VALID.targets) > 0.95


def test_predict_gives_float_cpu_outputs_in_eval_mode():
    trainer = Trainer(_net(), CONFIG)
    outputs = trainer.predict(VALID.inputs, batch_size=7)
    assert (outputs.shape, outputs.device.type, trainer.module.training) == (
        torch.Size([80, 2]), "cpu", False)


def test_the_history_survives_a_trip_through_json():
    history = _fit(_net())
    assert FitHistory.from_dict(history.to_dict()) == history


def test_a_config_survives_a_trip_through_a_dict():
    assert LoopConfig.from_dict(CONFIG.to_dict()) == CONFIG


@pytest.mark.slow
def test_a_deadline_shortens_the_schedule_so_training_ends_on_a_low_rate():
    config = LoopConfig(max_epochs=10_000, batch_size=32, device="cpu", schedule="cosine",
                        patience=10_000)
    history = Trainer(_net(), config).fit(TRAIN, VALID, stop_at=time.monotonic() + 1.0)
    assert history.stopped_because == "time" and len(history.epochs) > 3
    assert history.epochs[-1].learning_rate < 0.3 * config.learning_rate
