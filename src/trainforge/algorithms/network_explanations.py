"""Which pixels or words a network's prediction rests on: integrated gradients (Sundararajan
et al., 2017) from a blank input to the real one.

Explained is the network's own score of the class it predicts (its logit; a regressor's
output), and the attributions add up to that score's move from the blank input (a black image;
every word embedding zero) up to the error of a ``steps``-point midpoint integral, reported as
``gap``. An image's attributions are summed over its channels into one heat map; a text's are
summed over each token's embedding. PyTorch is imported only here, when a network is explained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainforge.algorithms.network import require_torch

STEPS = 32
# the networks integrated gradients explain, by what they read
NETWORKS = {"image": ("cnn",), "text": ("gru", "text_transformer", "minilm")}


@dataclass(frozen=True)
class Attribution:
    """One input's attributions: ``pixels`` (height, width) for an image, ``tokens`` (each
    token and its attribution, in order) for a text; ``target``: the class code explained
    (-1: a regressor's value); ``score``: its score; ``gap``: |sum − (score − blank score)|."""

    target: int
    score: float
    gap: float
    pixels: np.ndarray | None = None
    image: np.ndarray | None = None  # the image as the network saw it, channels averaged
    tokens: tuple[tuple[str, float], ...] = ()

    def top_tokens(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` tokens that raised the score most (largest attribution first)."""
        return sorted(self.tokens, key=lambda pair: -pair[1])[:k]


def explained_network(estimators: Sequence[Any]) -> tuple[str, Any] | None:
    """What a model of ``estimators`` (its members') reads and its network, when it is one
    network integrated gradients explain ("image" or "text"); None otherwise."""
    if len(estimators) != 1:
        return None
    architecture = getattr(estimators[0], "architecture", None)
    for reads, architectures in NETWORKS.items():
        if architecture in architectures:
            return reads, estimators[0]
    return None


def has_token_table(estimator: Any) -> bool:
    """Whether a text network learns its own word embeddings (what ``text_attributions``
    explains); a frozen pretrained encoder's sentence embeddings are computed once."""
    return (getattr(estimator.inputs_, "tokenizer", None) is not None
            and _token_embedding(estimator.module_) is not None)


def attribution_grid(pixels: np.ndarray, *, cells: int) -> np.ndarray:
    """``pixels``' attributions summed over a grid of at most ``cells`` × ``cells`` blocks
    (fewer where the image is smaller), row-major from the top left; the grid sums to the
    same total."""
    edges = [np.linspace(0, size, min(cells, size) + 1).astype(int)[:-1]
             for size in pixels.shape]
    return np.add.reduceat(np.add.reduceat(pixels, edges[0], axis=0), edges[1], axis=1)


def _scores(outputs: Any, targets: Any) -> Any:
    return outputs.gather(1, targets.view(-1, 1)).view(-1)


def _targets(estimator: Any, outputs: Any) -> Any:
    torch = require_torch("explaining a network")
    if estimator.is_classifier:
        return outputs.argmax(dim=1)
    return torch.zeros(len(outputs), dtype=torch.long)


def image_attributions(estimator: Any, values: Sequence[Any], *,
                       steps: int = STEPS) -> list[Attribution]:
    """Integrated gradients of a ``cnn`` NetworkModel over the pixels of ``values`` (image
    paths or bytes), from a black image."""
    torch = require_torch("explaining a network")
    module = estimator.module_.eval()
    (pixels,) = estimator.inputs_.encode(list(values))
    with torch.no_grad():
        outputs = module(pixels)
        targets = _targets(estimator, outputs)
        blank = _scores(module(torch.zeros_like(pixels)), targets)
    gradients = torch.zeros_like(pixels)
    for step in range(steps):  # autograd.grad: the network's own parameters keep no .grad
        scaled = (pixels * ((step + 0.5) / steps)).requires_grad_(True)
        gradients += torch.autograd.grad(_scores(module(scaled), targets).sum(), scaled)[0]
    attributions = (pixels * gradients / steps).sum(dim=1)  # (images, height, width)
    scores = _scores(outputs, targets)
    gaps = (attributions.sum(dim=(1, 2)) - (scores - blank)).abs()
    return [Attribution(target=int(t) if estimator.is_classifier else -1, score=float(s),
                        gap=float(g), pixels=a.detach().numpy().astype(np.float64),
                        image=p.mean(dim=0).numpy().astype(np.float64))
            for t, s, g, a, p in zip(targets, scores, gaps, attributions, pixels, strict=True)]


def _token_embedding(module: Any) -> Any:
    torch = require_torch("explaining a network")
    for part in module.modules():  # the token table: the embedding that pads with id 0
        if isinstance(part, torch.nn.Embedding) and part.padding_idx == 0:
            return part
    return None


def text_attributions(estimator: Any, values: Sequence[Any], *,
                      steps: int = STEPS) -> list[Attribution] | None:
    """Integrated gradients of a text NetworkModel over each token of ``values``, from all
    word embeddings zero; None for a network without its own token table (a frozen
    pretrained encoder whose sentence embeddings are computed once)."""
    torch = require_torch("explaining a network")
    module = estimator.module_.eval()
    table = _token_embedding(module)
    tokenizer = getattr(estimator.inputs_, "tokenizer", None)
    if table is None or tokenizer is None:
        return None
    ids, mask = estimator.inputs_.encode(list(values))
    scale = {"alpha": 1.0}
    seen: list[Any] = []

    def scaled(_: Any, __: Any, output: Any) -> Any:
        # a leaf of its own: the gradient is taken with respect to it, not to the table
        leaf = (output.detach() * scale["alpha"]).requires_grad_(torch.is_grad_enabled())
        seen.append(leaf)
        return leaf

    handle = table.register_forward_hook(scaled)
    try:
        with torch.no_grad():
            outputs = module(ids, mask)
            targets = _targets(estimator, outputs)
            embedded = seen[-1]
            scale["alpha"] = 0.0
            blank = _scores(module(ids, mask), targets)
        gradients = torch.zeros_like(embedded)
        for step in range(steps):
            scale["alpha"] = (step + 0.5) / steps
            score = _scores(module(ids, mask), targets).sum()
            gradients += torch.autograd.grad(score, seen[-1])[0]
    finally:
        handle.remove()
    per_token = (embedded * gradients / steps).sum(dim=2)  # (texts, tokens)
    scores = _scores(outputs, targets)
    gaps = (per_token.sum(dim=1) - (scores - blank)).abs()
    return [Attribution(
        target=int(t) if estimator.is_classifier else -1, score=float(s), gap=float(g),
        tokens=tuple((tokenizer.token_text(int(i)), float(a))
                     for i, a, keep in zip(row_ids, row, row_mask, strict=True) if keep))
        for t, s, g, row_ids, row, row_mask in zip(targets, scores, gaps, ids, per_token, mask,
                                                   strict=True)]
