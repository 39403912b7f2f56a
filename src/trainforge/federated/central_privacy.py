"""Central differential privacy's budget for a federation, in trainforge's own process: the
noise that makes the planned rounds spend (ε, δ), and the ε spent after each round.

The coordinator clips each client's update and noises their average (``flower_privacy``);
every client takes part in every round, so a round is one step of the Gaussian mechanism at
sample rate 1 and the protected unit is a client (user-level DP: all of one holder's rows at
once). Opacus's Rényi accountant does the arithmetic, as it does for DP-SGD
(``runtime.privacy_budget``).

    >>> budget = plan_central_privacy(epsilon=3.0, delta=1e-5, clipping_norm=1.0, rounds=5,
    ...                               clients=10)
    >>> round(budget.noise_multiplier, 1), budget.epsilon_after(5) <= 3.0
    (3.3, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from trainforge.json_value import JSONValue
from trainforge.runtime.privacy_budget import (
    check_delta,
    default_delta,
    epsilon_after,
    plan_noise,
)

# past this, the noise on the averaged update is larger than the clipping bound itself in
# every coordinate: nothing a round's clients send survives it
MAX_NOISE_ON_THE_MEAN = 1.0
SCOPE = ("ε is per client (user-level): the global model is (ε, δ)-differentially private with "
         "respect to everything one data holder contributed, all its rows at once, over all "
         "rounds. The per-holder figures and the centralised comparison in the report were "
         "computed on held-out rows without privacy.")


@dataclass(frozen=True)
class CentralPrivacy:
    """The budget, the clipping bound and the calibrated noise of one federation."""

    epsilon: float  # the budget the planned rounds spend
    delta: float
    clipping_norm: float  # each client's update is clipped to this L2 norm
    noise_multiplier: float  # noise std on the sum of updates / clipping_norm
    rounds: int
    clients: int  # the clients every round waits for (the noise is sized for them)

    def epsilon_after(self, rounds_done: int) -> float:
        """ε spent once ``rounds_done`` rounds have been aggregated."""
        if rounds_done <= 0:
            return 0.0
        return epsilon_after(noise_multiplier=self.noise_multiplier, sample_rate=1.0,
                             steps=rounds_done, delta=self.delta)

    def lineage(self, rounds_done: int) -> dict[str, JSONValue]:
        """The manifest's ``differential_privacy`` record, in the fields DP-SGD's has (the
        report and the model card read it), with the mechanism named."""
        return {"mechanism": "central", "epsilon": self.epsilon_after(rounds_done),
                "target_epsilon": self.epsilon, "delta": self.delta,
                "max_grad_norm": self.clipping_norm, "noise_multiplier": self.noise_multiplier,
                "sample_rate": 1.0, "steps": rounds_done, "rounds": rounds_done,
                "clients": self.clients, "accountant": "rdp", "scope": SCOPE}


def plan_central_privacy(*, epsilon: float, delta: float | None, clipping_norm: float,
                         rounds: int, clients: int) -> CentralPrivacy:
    """The noise for (ε, δ) over ``rounds`` rounds of ``clients`` clients (δ defaults to 1e-5,
    or 0.1 / clients when smaller).

    Raises PrivacyDeltaTooLarge for a δ of 1/clients or more, and PrivacyBudgetTooSmall,
    naming the smallest usable ε, when the noise on the averaged update would exceed
    ``MAX_NOISE_ON_THE_MEAN`` times the clipping bound.
    """
    delta = default_delta(clients) if delta is None else delta
    check_delta(delta, clients, what="--dp-delta")  # the records it protects: the clients
    noise = plan_noise(epsilon=epsilon, delta=delta, sample_rate=1.0, steps=rounds,
                       planned=f"{rounds} rounds of {clients} clients",
                       max_noise_multiplier=MAX_NOISE_ON_THE_MEAN * clients,
                       remedy="fewer --rounds, or more --clients (the noise on their average "
                              "shrinks as they grow)")
    return CentralPrivacy(epsilon=epsilon, delta=delta, clipping_norm=clipping_norm,
                          noise_multiplier=noise.noise_multiplier, rounds=rounds,
                          clients=clients)
