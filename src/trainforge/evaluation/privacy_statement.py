"""What the report and the model card say about a network trained with DP-SGD: the budget it
spent, how (clipping, noise, sampling, epochs) and what the guarantee covers. One wording for
both, from the manifest's ``lineage.differential_privacy`` (jobs.differential_privacy)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# what the report's table and the card keep of the record, in reading order
FIELDS = ("epsilon", "target_epsilon", "delta", "max_grad_norm", "noise_multiplier",
          "sample_rate", "epochs", "steps", "accountant", "algorithm",
          "evaluated_model_epsilon")


def privacy_record(record: Any) -> dict[str, Any] | None:
    """The fields worth showing of a ``differential_privacy`` record, or None without one."""
    if not isinstance(record, Mapping) or "target_epsilon" not in record:
        return None
    return {key: record.get(key) for key in (*FIELDS, "scope") if record.get(key) is not None}


def privacy_paragraphs(record: Mapping[str, Any]) -> list[str]:
    """Two sentences: what was spent and how, then what the guarantee covers."""
    spent = record.get("epsilon")
    spent_text = "an ε the accountant could not bound" if spent is None else f"ε = {spent:.3g}"
    how = (f"Trained with DP-SGD (Opacus, {record.get('accountant', 'rdp')} accountant): "
           f"{spent_text} spent of a budget of ε = {record['target_epsilon']:g} at "
           f"δ = {record.get('delta', 0):.3g}; each row's gradient clipped to "
           f"{record.get('max_grad_norm', 0):g}, Gaussian noise of "
           f"{record.get('noise_multiplier', 0):.3g} times that bound, Poisson batches of "
           f"rate {record.get('sample_rate', 0):.3g}, {record.get('epochs', '?')} epochs "
           f"({record.get('steps', '?')} steps).")
    scope = str(record.get("scope") or "")
    return [how, *([scope] if scope else [])]
