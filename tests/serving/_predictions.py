"""What the serving tests count: how often a served model predicted."""

from __future__ import annotations

import numpy as np

from trainforge.serving.served import ServedModel


def count_predictions(served: ServedModel) -> list[int]:
    """A list that gets an item each time ``served``'s compiled blend predicts from now on."""
    assert served.compiled is not None
    predicted: list[int] = []
    blend = served.compiled.blend

    def counted(columns: dict[str, object]) -> np.ndarray:
        predicted.append(1)
        return blend(columns)  # type: ignore[arg-type]

    served.compiled.blend = counted  # type: ignore[method-assign]
    return predicted
