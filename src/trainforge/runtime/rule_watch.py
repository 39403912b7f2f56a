"""The training rules, live: a loop callback that runs them on each watched step and epoch.

    watch = RuleWatch(mode="warn", report=print)
    Trainer(module, config, callbacks=[watch]).fit(train, valid)

Each rule fires at most once per fit. ``warn`` reports the finding and trains on; ``stop``
reports it and raises ``StoppedByRule`` after the step or epoch that showed it (the loop has
saved its checkpoint at the last epoch's end; the job records the run failed with the finding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from trainforge.errors import ConfigError, StoppedByRule
from trainforge.runtime.callbacks import Decision
from trainforge.runtime.rules import EPOCH_RULES, STEP_RULES, Finding, RulesMode, StepSample

if TYPE_CHECKING:  # the loop's records import torch; a table's search must not
    from trainforge.runtime.loop_records import EpochState

# steps between checks, at most: a gradient norm per layer and a weight copy every 10 steps
# cost little of a small CNN's step time (benchmarks/rules), and 10 steps is soon enough to stop
# a NaN run; shorter epochs are watched twice each (see StepProbe.plan)
WATCH_EVERY_STEPS = 10
# the samples kept: the trend rules look at thirds of these (~600 steps at the default watch)
KEPT_SAMPLES = 60
RULES_MODES: tuple[RulesMode, ...] = ("warn", "stop", "off")


class RuleWatch:
    """Runs the step and epoch rules on what the loop reports; ``report`` hears each finding."""

    def __init__(self, *, mode: RulesMode, report: Callable[[Finding], None],
                 every_steps: int = WATCH_EVERY_STEPS, where: str = "") -> None:
        if mode not in RULES_MODES:
            raise ConfigError(f"rules mode {mode!r} is not known; choose warn, stop or off")
        self.mode, self.report, self.every_steps, self.where = mode, report, every_steps, where
        self.steps: list[StepSample] = []
        self.epochs: list[EpochState] = []
        self.fired: set[str] = set()

    def on_fit_start(self, config: object) -> None:
        self.steps, self.epochs, self.fired = [], [], set()

    def on_step_end(self, sample: StepSample) -> None:
        self.steps = [*self.steps[-(KEPT_SAMPLES - 1):], sample]
        self._judge(STEP_RULES, self.steps)

    def on_epoch_end(self, state: EpochState) -> Decision:
        self.epochs.append(state)
        self._judge(EPOCH_RULES, self.epochs)
        return Decision.CONTINUE

    def _judge(self, rules: Sequence[Callable[[Any], Finding | None]],
               records: Sequence[Any]) -> None:
        for rule in rules:
            if rule.__name__ in self.fired:
                continue
            finding = rule(records)
            # a step rule and an epoch rule may find the same thing (loss_diverged): once
            if finding is None or finding.rule in self.fired:
                continue
            self.fired.update((rule.__name__, finding.rule))
            finding = Finding(**{**finding.to_dict(), "where": self.where})
            self.report(finding)
            if self.mode == "stop":
                raise StoppedByRule(finding.rule, str(finding))
