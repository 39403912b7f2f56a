"""Training rules: what a network's recorded numbers say is going wrong, and what to try.

Each rule is a pure function over numbers the loop recorded (``StepSample`` every few steps:
the loss, gradient norms per layer, the relative size of the weight update, the share of dead
ReLU units; ``EpochState`` every epoch) and returns a ``Finding`` or None. They import nothing
heavy, so the search's tabular checks (``evaluation.search_rules``) share ``Finding``;
``runtime.rule_watch.RuleWatch`` runs them live while a network trains.

    >>> loss_diverged([StepSample(epoch=1, step=10, loss=float("nan"))]).rule
    'loss_diverged'
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

RulesMode = Literal["warn", "stop", "off"]

# ---- thresholds, each with why ----------------------------------------------------------------
# a mini-batch loss ten times where it started is no noise: a healthy run's batch losses stay
# within ~2x of their start (the healthy benchmark runs' largest was 1.6x)
EXPLODING_LOSS_FACTOR = 10.0
# gradient norms are measured before clipping; with inputs and targets scaled to ~1 a healthy
# network's total norm is 0.1-30 (healthy benchmark runs); past 1,000 every step is mostly clip
EXPLODING_GRAD_NORM = 1_000.0
# at the first step the network is as initialised, and initialisation keeps a network fed
# inputs of spread ~1 at gradient norms of ~0.4-2 (benchmark ResNet and MLP); an MLP fed raw
# 0..255 pixels started at 270. A norm past this at step 1 is the data's scale, not noise
EXPLODING_FIRST_GRAD_NORM = 100.0
# the first layer's gradient a millionth of the largest layer's: the signal dies on the way back
VANISHING_LAYER_RATIO = 1e-6
# below this a total gradient norm moves nothing (float32 weights have ~7 significant digits)
VANISHING_GRAD_NORM = 1e-7
# a few silent units are normal sparsity; half a layer silent on a whole batch has stopped learning
DEAD_RELU_SHARE = 0.5
# samples in a row a gradient or ReLU rule must hold: one odd batch is not a trend
PERSIST_SAMPLES = 3
# the weight update as a share of the weights per step: ~1e-3 is the healthy rule of thumb;
# under 1e-6 a thousand steps change the weights by a tenth of a percent
UPDATE_RATIO_LOW = 1e-6
# over half of the weights' size changed by one step: the optimiser jumps instead of descending
UPDATE_RATIO_HIGH = 0.5
# the trainable weights' size this many times what it was at most WEIGHT_GROWTH_STEPS steps
# before: on the ResNet (BatchNorm after every conv, so the loss stays bounded) learning rate 10
# grew it 206x in 9 steps; healthy benchmark runs moved it by under 1.1x in 30. Adam moves each
# weight by about the learning rate per step at most, so 30x in 20 steps takes a rate past 1.5x
# the weights' starting spread (~0.03 for a fresh linear head, where the search stops at 0.03)
WEIGHT_GROWTH_FACTOR = 30.0
WEIGHT_GROWTH_STEPS = 20
# the late losses' mean this much above the early ones' (after the first sample): rising
RISING_LOSS_FACTOR = 1.25
# mean jump between samples as a share of the loss: batch noise is ~10-30 %; 100 % is oscillation
OSCILLATION_SHARE = 1.0
# samples before the rate rules judge a trend (with the default 10-step watch, 60 steps)
MIN_TREND_SAMPLES = 6
# a validation loss under this is no explosion, whatever the ratio: cross-entropy at chance is
# ln(classes) >= 0.69, a standardised target's mean squared error at its mean is 1
DIVERGED_LOSS_FLOOR = 1.0
# epochs over which the monitored loss must drop by NOT_DECREASING_SHARE at least once
NOT_DECREASING_EPOCHS = 3
NOT_DECREASING_SHARE = 0.01
# a validation loss within this share of the class shares' cross-entropy learned nothing more
# than how common each class is: a network on labels shuffled among 13 % spam falls from ln 2 to
# that entropy and stops, which the loss_not_decreasing rule reads as progress
CLASS_SHARES_MARGIN = 0.03
# epochs in a row of train loss falling while validation loss rises, and by how much it rose
OVERFIT_EPOCHS = 3
OVERFIT_RISE = 0.05
# a minority class holds under half its fair share of the validation rows; its recall under
# half the others' mean is the model trading it away for accuracy on the rest
MINORITY_SHARE = 0.5
RECALL_FAR_BELOW = 0.5


# what to try, per rule, where only its id is known (the run page reads the run's metric series)
ADVICE = {
    "loss_diverged": "a learning rate 10x lower, gradient clipping, or inputs scaled to ~1",
    "exploding_gradients": "inputs standardised to mean 0 and spread 1, or a lower learning rate",
    "vanishing_gradients": "a higher learning rate, normalisation layers or residual connections",
    "dead_relus": "a lower learning rate, or LeakyReLU/GELU activations",
    "learning_rate_too_high": "a learning rate 10x lower",
    "learning_rate_too_low": "a learning rate 100x higher",
    "loss_not_decreasing": "checking that the labels match the inputs, then another learning rate",
    "overfitting": "more data or augmentation, dropout or weight decay",
    "minority_class_ignored": "class weights, oversampling, or a metric that counts each class",
    "every_trial_overfits": "more rows, fewer columns, or stronger regularisation",
    "leaking_column": "leaving out the column that is not known before the target is",
    "target_unpredictable": "checking --target and its labels, then adding informative columns",
}


@dataclass(frozen=True)
class StepSample:
    """What the loop measured at one watched step (all read in one device sync)."""

    epoch: int  # 1-based: the epoch this step belongs to
    step: int  # optimiser steps so far, this one included
    loss: float
    learning_rate: float = 0.0
    grad_norms: Mapping[str, float] = field(default_factory=dict)  # per layer, before clipping
    update_ratio: float | None = None  # |w_after - w_before| / |w_before|, all trainable weights
    weight_norm: float | None = None  # |w_before|: how large the trainable weights have grown
    dead_relu: Mapping[str, float] = field(default_factory=dict)  # per ReLU module: share dead


@dataclass(frozen=True)
class Finding:
    """One rule that fired: where, what it measured, and what to try."""

    rule: str
    message: str  # what was seen, with the numbers
    advice: str  # what to try, one sentence
    measured: dict[str, float] = field(default_factory=dict)
    epoch: int | None = None
    step: int | None = None
    where: str = ""  # the network (its algorithm name) or "search"

    def __str__(self) -> str:
        at = " ".join(f"{name} {value}" for name, value in (("epoch", self.epoch),
                                                            ("step", self.step))
                      if value is not None)
        source = " ".join(filter(None, [self.where, at]))
        return f"{self.rule}{f' ({source})' if source else ''}: {self.message}; try {self.advice}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _total(norms: Mapping[str, float]) -> float:
    return math.sqrt(sum(n * n for n in norms.values()))


def _fmt(value: float) -> str:
    return f"{value:.3g}"


# ---- rules over step samples ------------------------------------------------------------------
def loss_diverged(steps: Sequence[StepSample]) -> Finding | None:
    """The loss became NaN or infinite, or grew tenfold from where it started."""
    if not steps:
        return None
    last = steps[-1]
    if not math.isfinite(last.loss):
        return Finding("loss_diverged", f"the training loss became {last.loss}",
                       "a learning rate 10x lower, gradient clipping, or inputs scaled to ~1",
                       {"loss": last.loss}, last.epoch, last.step)
    first = next((s.loss for s in steps if math.isfinite(s.loss)), last.loss)
    if first > 0 and last.loss > EXPLODING_LOSS_FACTOR * first:
        return Finding("loss_diverged", f"the training loss grew from {_fmt(first)} to "
                       f"{_fmt(last.loss)} ({last.loss / first:.0f}x)",
                       "a learning rate 10x lower, or inputs scaled to ~1",
                       {"first_loss": first, "loss": last.loss}, last.epoch, last.step)
    return None


def exploding_gradients(steps: Sequence[StepSample]) -> Finding | None:
    """The total gradient norm stayed past EXPLODING_GRAD_NORM for PERSIST_SAMPLES samples, or
    was past EXPLODING_FIRST_GRAD_NORM at the very first step."""
    first = steps[0] if steps else None
    if first is not None and first.step == 1 and first.grad_norms and (
            _total(first.grad_norms) > EXPLODING_FIRST_GRAD_NORM):
        layer, norm = max(first.grad_norms.items(), key=lambda item: item[1])
        return Finding("exploding_gradients", f"the untrained network's gradient norm is "
                       f"{_fmt(_total(first.grad_norms))} at step 1 (largest in layer "
                       f"{layer!r}: {_fmt(norm)}), over {EXPLODING_FIRST_GRAD_NORM:g}: the "
                       "inputs or targets are far from a spread of ~1", "inputs standardised "
                       "to mean 0 and spread 1 (and targets, for regression)",
                       {"grad_norm": _total(first.grad_norms), "layer_norm": norm},
                       first.epoch, first.step)
    recent = [_total(s.grad_norms) for s in steps[-PERSIST_SAMPLES:] if s.grad_norms]
    if len(recent) < PERSIST_SAMPLES or min(recent) <= EXPLODING_GRAD_NORM:
        return None
    last = steps[-1]
    layer, norm = max(last.grad_norms.items(), key=lambda item: item[1])
    return Finding("exploding_gradients", f"the gradient norm is {_fmt(recent[-1])} (largest in "
                   f"layer {layer!r}: {_fmt(norm)}), over {EXPLODING_GRAD_NORM:g} for "
                   f"{PERSIST_SAMPLES} checks", "inputs standardised to mean 0 and spread 1, "
                   "or a lower learning rate", {"grad_norm": recent[-1], "layer_norm": norm},
                   last.epoch, last.step)


def vanishing_gradients(steps: Sequence[StepSample]) -> Finding | None:
    """The gradients are ~0, or the first layer's is a millionth of the largest layer's,
    for PERSIST_SAMPLES samples in a row."""
    recent = [s for s in steps[-PERSIST_SAMPLES:] if s.grad_norms and math.isfinite(s.loss)]
    if len(recent) < PERSIST_SAMPLES:
        return None
    totals = [_total(s.grad_norms) for s in recent]
    first_layer = [next(iter(s.grad_norms.values())) for s in recent]
    ratios = [f / max(s.grad_norms.values()) if max(s.grad_norms.values()) > 0 else 0.0
              for f, s in zip(first_layer, recent, strict=True)]
    last = recent[-1]
    if max(totals) < VANISHING_GRAD_NORM and last.loss > 1e-3:  # a loss of ~0 needs no gradient
        return Finding("vanishing_gradients", f"the gradient norm is {_fmt(totals[-1])} while "
                       f"the loss is still {_fmt(last.loss)}", "a higher learning rate, "
                       "normalisation layers, or fewer layers", {"grad_norm": totals[-1]},
                       last.epoch, last.step)
    if (len(last.grad_norms) > 1 and max(ratios) < VANISHING_LAYER_RATIO
            and max(last.grad_norms.values()) > 0 and last.loss > 1e-3):
        layer = next(iter(last.grad_norms))
        return Finding("vanishing_gradients", f"the first layer {layer!r} gets a gradient "
                       f"{ratios[-1]:.1e} times the largest layer's", "residual connections, "
                       "normalisation layers or ReLU-like activations",
                       {"first_layer_ratio": ratios[-1]}, last.epoch, last.step)
    return None


def dead_relus(steps: Sequence[StepSample]) -> Finding | None:
    """A ReLU layer had over DEAD_RELU_SHARE of its units silent on whole batches, for
    PERSIST_SAMPLES samples in a row."""
    recent = steps[-PERSIST_SAMPLES:]
    if len(recent) < PERSIST_SAMPLES or not all(s.dead_relu for s in recent):
        return None
    for layer, share in recent[-1].dead_relu.items():
        if all(s.dead_relu.get(layer, 0.0) > DEAD_RELU_SHARE for s in recent):
            last = recent[-1]
            return Finding("dead_relus", f"{share:.0%} of the units of ReLU {layer!r} never "
                           "fire on a whole batch", "a lower learning rate, or LeakyReLU/GELU "
                           "activations", {"dead_share": share}, last.epoch, last.step)
    return None


def learning_rate_too_high(steps: Sequence[StepSample]) -> Finding | None:
    """The weights grew WEIGHT_GROWTH_FACTOR-fold within WEIGHT_GROWTH_STEPS steps, or each
    step changes them by over half their size, or after the first sample the loss rises or
    swings by its own size."""
    last = steps[-1] if steps else None
    growth = _weight_growth(steps)
    if last is not None and growth is not None and growth[0] > WEIGHT_GROWTH_FACTOR:
        return Finding("learning_rate_too_high", f"the weights grew {growth[0]:.0f}x in "
                       f"{growth[1]} steps: each step throws them further than the gradient "
                       "asks", "a learning rate 10x lower",
                       {"weight_growth": growth[0], "learning_rate": last.learning_rate},
                       last.epoch, last.step)
    ratios = [s.update_ratio for s in steps[-PERSIST_SAMPLES:] if s.update_ratio is not None]
    if last is not None and len(ratios) == PERSIST_SAMPLES and min(ratios) > UPDATE_RATIO_HIGH:
        return Finding("learning_rate_too_high", f"each step changes the weights by "
                       f"{statistics.median(ratios):.0%} of their size", "a learning rate 10x "
                       "lower", {"update_ratio": statistics.median(ratios),
                                 "learning_rate": last.learning_rate}, last.epoch, last.step)
    losses = [s.loss if math.isfinite(s.loss) else math.inf for s in steps[1:]]
    if last is None or len(losses) < MIN_TREND_SAMPLES:
        return None
    third = len(losses) // 3
    # the early losses, or the very first when lower: a rate that blows up in its first
    # steps has a high 'early' already
    early = min(statistics.fmean(losses[:third]), steps[0].loss)
    late = statistics.fmean(losses[-third:])
    if late > RISING_LOSS_FACTOR * early:
        return Finding("learning_rate_too_high", f"the loss rose from {_fmt(early)} to "
                       f"{_fmt(late)} after the first steps", "a learning rate 10x lower",
                       {"early_loss": early, "late_loss": late,
                        "learning_rate": last.learning_rate}, last.epoch, last.step)
    jumps = [abs(b - a) for a, b in itertools.pairwise(losses)]
    swing = statistics.fmean(jumps) / max(statistics.fmean(losses), 1e-12)
    if swing > OSCILLATION_SHARE and late >= early:
        return Finding("learning_rate_too_high", f"the loss swings by {swing:.0%} of its size "
                       "between checks without coming down", "a learning rate 10x lower",
                       {"swing": swing, "learning_rate": last.learning_rate}, last.epoch,
                       last.step)
    return None


def _weight_growth(steps: Sequence[StepSample]) -> tuple[float, int] | None:
    """How many times the weights' size grew in the last WEIGHT_GROWTH_STEPS steps, and over
    how many steps (None: not measured). A short run's bounded loss can hide a rate that is
    far too high; the weights cannot."""
    sized = [(s.step, s.weight_norm) for s in steps if s.weight_norm is not None]
    if len(sized) < 2:
        return None
    last_step, size = sized[-1]
    start_step, start_size = next(p for p in sized if p[0] >= last_step - WEIGHT_GROWTH_STEPS)
    if start_step == last_step or not start_size > 0:
        return None
    return (size / start_size if math.isfinite(size) else math.inf, last_step - start_step)


def learning_rate_too_low(steps: Sequence[StepSample]) -> Finding | None:
    """Healthy gradients, yet each step changes the weights by under UPDATE_RATIO_LOW."""
    recent = steps[-PERSIST_SAMPLES:]
    ratios = [s.update_ratio for s in recent if s.update_ratio is not None]
    if len(ratios) < PERSIST_SAMPLES or max(ratios) >= UPDATE_RATIO_LOW:
        return None
    norms = [_total(s.grad_norms) for s in recent if s.grad_norms]
    if not norms or min(norms) < VANISHING_GRAD_NORM:  # then the gradients are the problem
        return None
    last = recent[-1]
    return Finding("learning_rate_too_low", f"each step changes the weights by "
                   f"{statistics.median(ratios):.1e} of their size while the gradient norm is "
                   f"{_fmt(norms[-1])}", "a learning rate 100x higher",
                   {"update_ratio": statistics.median(ratios), "grad_norm": norms[-1],
                    "learning_rate": last.learning_rate}, last.epoch, last.step)


STEP_RULES = (loss_diverged, exploding_gradients, vanishing_gradients, dead_relus,
              learning_rate_too_high, learning_rate_too_low)


# ---- rules over epochs ------------------------------------------------------------------------
def validation_loss_diverged(epochs: Sequence[Any]) -> Finding | None:
    """The validation loss became NaN or infinite, or EXPLODING_LOSS_FACTOR times the highest
    training loss so far: BatchNorm and clipping can keep the training batches' loss bounded
    while the weights blow up, and the rows the model has not seen show it."""
    last = epochs[-1] if epochs else None
    if last is None or last.val_loss is None:
        return None
    worst_train = max((e.train_loss for e in epochs if math.isfinite(e.train_loss)),
                      default=math.inf)
    if math.isfinite(last.val_loss) and (last.val_loss <= DIVERGED_LOSS_FLOOR
                                         or last.val_loss <= EXPLODING_LOSS_FACTOR * worst_train):
        return None
    return Finding("loss_diverged", f"the validation loss is {_fmt(last.val_loss)} while the "
                   f"training loss was at most {_fmt(worst_train)}", "a learning rate 10x lower, "
                   "gradient clipping, or inputs scaled to ~1",
                   {"val_loss": last.val_loss, "train_loss": worst_train}, last.epoch, last.step)


def loss_not_decreasing(epochs: Sequence[Any]) -> Finding | None:
    """Over the first NOT_DECREASING_EPOCHS epochs the monitored loss (validation, else
    training) never fell NOT_DECREASING_SHARE below its first value."""
    if len(epochs) < NOT_DECREASING_EPOCHS:
        return None
    which = "validation" if epochs[0].val_loss is not None else "training"
    losses = [e.val_loss if e.val_loss is not None else e.train_loss for e in epochs]
    if not all(math.isfinite(x) for x in losses):
        return None  # loss_diverged says so
    if losses[0] < 1e-3 or min(losses[1:]) < losses[0] * (1 - NOT_DECREASING_SHARE):
        return None  # a loss of ~0 has nothing left to fall
    last = epochs[-1]
    return Finding("loss_not_decreasing", f"the {which} loss has not fallen in {len(epochs)} "
                   f"epochs ({_fmt(losses[0])} → {_fmt(losses[-1])})", "checking that the "
                   "labels match the inputs, then another learning rate",
                   {"first_loss": losses[0], "loss": losses[-1]}, last.epoch, last.step)


def loss_at_class_shares(epochs: Sequence[Any]) -> Finding | None:
    """After NOT_DECREASING_EPOCHS epochs, with the validation loss no longer falling, the
    validation cross-entropy is no lower (within CLASS_SHARES_MARGIN) than always answering
    the validation rows' class shares."""
    last = epochs[-1] if epochs else None
    if (last is None or last.epoch < NOT_DECREASING_EPOCHS or last.val_loss is None
            or last.val_support is None or not math.isfinite(last.val_loss)
            or _still_learning(epochs)):
        return None
    total = sum(last.val_support)
    shares = [n / total for n in last.val_support if n > 0] if total else []
    constant = -sum(p * math.log(p) for p in shares)
    if len(shares) < 2 or last.val_loss < constant * (1 - CLASS_SHARES_MARGIN):
        return None
    return Finding("loss_not_decreasing", f"the validation loss {_fmt(last.val_loss)} is no "
                   f"lower than answering the class shares ({_fmt(constant)}) after "
                   f"{last.epoch} epochs: the network learned how common each class is, "
                   "nothing from the inputs", "checking that the labels match the inputs, "
                   "then another learning rate", {"loss": last.val_loss,
                                                  "class_shares_loss": constant},
                   last.epoch, last.step)


def overfitting(epochs: Sequence[Any]) -> Finding | None:
    """Training loss falling while validation loss rises, OVERFIT_EPOCHS epochs in a row."""
    if len(epochs) <= OVERFIT_EPOCHS or epochs[-1].val_loss is None:
        return None
    window = epochs[-OVERFIT_EPOCHS - 1:]
    train = [e.train_loss for e in window]
    valid = [e.val_loss for e in window]
    best = min(e.val_loss for e in epochs if e.val_loss is not None)
    falling = all(b < a for a, b in itertools.pairwise(train))
    rising = all(b > a for a, b in itertools.pairwise(valid))
    if not (falling and rising and valid[-1] > best * (1 + OVERFIT_RISE)):
        return None
    last = epochs[-1]
    return Finding("overfitting", f"the training loss fell ({_fmt(train[0])} → "
                   f"{_fmt(train[-1])}) while the validation loss rose ({_fmt(valid[0])} → "
                   f"{_fmt(valid[-1])}) for {OVERFIT_EPOCHS} epochs", "more data or "
                   "augmentation, dropout or weight decay (early stopping keeps the best epoch)",
                   {"train_loss": train[-1], "val_loss": valid[-1], "best_val_loss": best},
                   last.epoch, last.step)


def _still_learning(epochs: Sequence[Any]) -> bool:
    """The latest validation loss is a new best by NOT_DECREASING_SHARE: what the network
    gets wrong now it may still learn (a GRU on SMS answers every message "ham" for four
    epochs, then finds the spam: recall 0.88 by the sixth)."""
    losses = [e.val_loss for e in epochs if e.val_loss is not None]
    return len(losses) >= 2 and losses[-1] < min(losses[:-1]) * (1 - NOT_DECREASING_SHARE)


def minority_class_ignored(epochs: Sequence[Any]) -> Finding | None:
    """A minority class's validation recall is far below the other classes' mean, once the
    validation loss has stopped falling."""
    last = epochs[-1] if epochs else None
    if (last is None or last.epoch < 2 or last.val_recall is None or last.val_support is None
            or len(last.val_recall) < 2 or _still_learning(epochs)):
        return None
    recall, support = list(last.val_recall), list(last.val_support)
    present = [c for c in range(len(recall)) if support[c] > 0]  # an absent class has no recall
    if len(present) < 2:
        return None
    worst = min(present, key=lambda c: (recall[c], support[c]))
    share = support[worst] / sum(support)
    mean_others = statistics.fmean(recall[c] for c in present if c != worst)
    fair = 1.0 / len(present)
    if share >= MINORITY_SHARE * fair or recall[worst] >= RECALL_FAR_BELOW * mean_others:
        return None
    return Finding("minority_class_ignored", f"class {worst} ({share:.1%} of the validation "
                   f"rows) has recall {recall[worst]:.2f} against {mean_others:.2f} for the "
                   "others", "class weights or oversampling the minority class, or a metric "
                   "that counts each class (balanced_accuracy, f1_macro)",
                   {"class": float(worst), "recall": recall[worst], "others_recall": mean_others,
                    "share": share}, last.epoch, last.step)


EPOCH_RULES = (validation_loss_diverged, loss_not_decreasing, loss_at_class_shares, overfitting,
               minority_class_ignored)
