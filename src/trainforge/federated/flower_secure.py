"""The fit round under secure aggregation: Flower's SecAgg+ workflow, finishing with the
clients left when one drops before its key shares went out, and failing naming who was lost
when too few are left. Run in the ServerApp (``flower_server``).

Why Flower's own workflow halts: SecAgg+ has four steps (setup, share keys, collect masked
vectors, unmask). Its unmask step treats every client sampled at setup that is not active at
the end as a dropout whose pairwise masks the others must remove, rebuilding its private key
from their shares of it. A client lost in the setup or share-keys step never sent those
shares (nor did any other client mask with it), so the server finds no share to rebuild it
("Not enough shares to recover secret") and each survivor, asked for its share of the lost
client's key, fails on a key it never held. The round halts though enough clients answered.

Here a client lost before its shares were forwarded leaves the round altogether after the
share-keys step, as if never sampled: it is neither anyone's neighbour nor a dropout to
unmask. A client lost later (its masks are in the sum) is unmasked as Flower does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.workflow import SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD
from flwr.server.workflow.constant import Key as WorkflowKey
from flwr.server.workflow.secure_aggregation.secaggplus_workflow import WorkflowState
from flwr.serverapp import Grid

Step = Callable[[Grid, LegacyContext, WorkflowState], bool]


class SecureRoundHalted(RuntimeError):
    """A secure round lost so many clients that the sum of the others cannot be rebuilt."""


class SurvivingSecAggPlus(SecAggPlusWorkflow):  # type: ignore[misc]  # flwr is untyped here
    """Flower's SecAgg+ workflow that finishes a round with the clients left, while at least
    the reconstruction threshold are; else raises SecureRoundHalted naming each client lost
    and the step it was lost in. ``names`` maps a node to its holder's name (as the strategy
    learns them); a node not yet named is shown by its id."""

    def __init__(self, *, names: Mapping[int, str], num_shares: float,
                 reconstruction_threshold: float, max_weight: float, timeout: float) -> None:
        super().__init__(num_shares=num_shares, reconstruction_threshold=reconstruction_threshold,
                         max_weight=max_weight, timeout=timeout)
        self.names = names

    def __call__(self, grid: Grid, context: LegacyContext) -> None:
        state = WorkflowState()
        steps: list[tuple[str, Step]] = [
            ("setup", self.setup_stage), ("share keys", self.share_keys_stage),
            ("collect masked vectors", self.collect_masked_vectors_stage),
            ("unmask", self.unmask_stage)]
        lost: dict[int, str] = {}  # node → the step it stopped answering in
        for step_name, step in steps:
            asked = set(state.active_node_ids)
            completed = step(grid, context, state)
            asked = asked or set(state.sampled_node_ids)  # setup samples as it asks
            lost.update({node: step_name for node in asked - state.active_node_ids})
            if not completed:
                raise SecureRoundHalted(self._why(context, state, step_name, lost))

    def share_keys_stage(self, grid: Grid, context: LegacyContext,
                         state: WorkflowState) -> bool:
        super().share_keys_stage(grid, context, state)
        # whoever has not answered by now sent no key share, and no one masked with it
        left = set(state.active_node_ids)
        state.sampled_node_ids = left
        state.nid_to_neighbours = {node: neighbours & left for node, neighbours
                                   in state.nid_to_neighbours.items() if node in left}
        # Flower's own check counted the lost clients' neighbours too; the round's fate
        # is the survivors'
        return bool(self._check_threshold(state))

    def _why(self, context: LegacyContext, state: WorkflowState, step: str,
             lost: Mapping[int, str]) -> str:
        server_round = context.state.config_records[MAIN_CONFIGS_RECORD][
            WorkflowKey.CURRENT_ROUND]
        who = ", ".join(f"{self._name(node)} (in its {lost[node]} step)" for node in sorted(lost))
        return (f"round {server_round}: secure aggregation (SecAgg+) halted at its {step} "
                f"step: {who or 'no client'} stopped answering, leaving "
                f"{len(state.active_node_ids)} client(s), and rebuilding the sum of their "
                f"updates needs {state.threshold} of them")

    def _name(self, node: int) -> str:
        return self.names.get(node, f"node {node}")
