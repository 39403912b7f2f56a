"""What the report and the model card say about a network trained with DP-SGD: the budget it
spent, how (clipping, noise, sampling, epochs) and what the guarantee covers. One wording for
both, from the manifest's ``lineage.differential_privacy`` (jobs.differential_privacy)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# what the report's table and the card keep of the record, in reading order
FIELDS = ("mechanism", "epsilon", "target_epsilon", "delta", "max_grad_norm",
          "noise_multiplier", "sample_rate", "epochs", "steps", "rounds", "clients",
          "accountant", "algorithm", "evaluated_model_epsilon")


def privacy_record(record: Any) -> dict[str, Any] | None:
    """The fields worth showing of a ``differential_privacy`` record, or None without one."""
    if not isinstance(record, Mapping) or "target_epsilon" not in record:
        return None
    return {key: record.get(key) for key in (*FIELDS, "scope") if record.get(key) is not None}


def privacy_paragraphs(record: Mapping[str, Any]) -> list[str]:
    """Two sentences: what was spent and how, then what the guarantee covers."""
    spent = record.get("epsilon")
    spent_text = "an ε the accountant could not bound" if spent is None else f"ε = {spent:.3g}"
    how = (_central(record, spent_text) if record.get("mechanism") == "central"
           else _dp_sgd(record, spent_text))
    scope = str(record.get("scope") or "")
    return [how, *([scope] if scope else [])]


def _dp_sgd(record: Mapping[str, Any], spent_text: str) -> str:
    """How DP-SGD (``runtime.dp_sgd``) spent a network's budget."""
    return (f"Trained with DP-SGD (Opacus, {record.get('accountant', 'rdp')} accountant): "
            f"{spent_text} spent of a budget of ε = {record['target_epsilon']:g} at "
            f"δ = {record.get('delta', 0):.3g}; each row's gradient clipped to "
            f"{record.get('max_grad_norm', 0):g}, Gaussian noise of "
            f"{record.get('noise_multiplier', 0):.3g} times that bound, Poisson batches of "
            f"rate {record.get('sample_rate', 0):.3g}, {record.get('epochs', '?')} epochs "
            f"({record.get('steps', '?')} steps).")


def _central(record: Mapping[str, Any], spent_text: str) -> str:
    """How a federation's central DP (``federated.central_privacy``) spent its budget."""
    return (f"Trained as a federation with central differential privacy (Opacus's "
            f"{record.get('accountant', 'rdp')} accountant): {spent_text} spent of a budget of "
            f"ε = {record['target_epsilon']:g} at δ = {record.get('delta', 0):.3g}; each "
            f"client's update clipped to an L2 norm of {record.get('max_grad_norm', 0):g}, "
            f"Gaussian noise of {record.get('noise_multiplier', 0):.3g} times that bound on "
            f"their sum, every one of {record.get('clients', '?')} clients in each of "
            f"{record.get('rounds', '?')} rounds.")
