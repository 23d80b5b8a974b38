"""Adaptive loss weights.

:class:`LRAnnealing` is the learning-rate-annealing scheme of Wang, Teng & Perdikaris (2021),
"Understanding and mitigating gradient pathologies in physics-informed neural networks"
(SIAM J. Sci. Comput. 43(5), arXiv 2001.04536, Algorithm 1): every ``every`` steps,

    λ̂_i = max_θ |∇_θ L_ref| / mean_θ |∇_θ L_i|,    λ_i ← (1 − α) λ_i + α λ̂_i,

where L_ref is the sum of the equation residual terms and i runs over the other terms.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .errors import InputError


class LRAnnealing:
    """Learning-rate annealing weights (Wang et al. 2021). ``alpha``: moving-average factor."""

    def __init__(self, alpha: float = 0.9, every: int = 10):
        if not (0.0 < alpha <= 1.0):
            raise InputError(f"alpha: expected a number in (0, 1], got {alpha!r}")
        if not (isinstance(every, int) and every >= 1):
            raise InputError(f"every: expected a positive integer, got {every!r}")
        self.alpha, self.every = alpha, every

    def update(self, terms: dict[str, torch.Tensor], weights: dict[str, float], reference: Sequence[str],
               params: Sequence[torch.Tensor], step: int) -> dict[str, float]:
        """New weights for the non-reference terms (reference terms keep theirs)."""
        if step % self.every:
            return weights
        if not reference:
            raise InputError("adaptive: learning-rate annealing needs residual terms to scale against; "
                             "this training target has none")
        params = [p for p in params if p.requires_grad]

        def grads(t):
            gs = torch.autograd.grad(t, params, retain_graph=True, allow_unused=True)
            return torch.cat([g.reshape(-1) for g in gs if g is not None])

        ref = sum(terms[k] for k in reference)
        g_ref = grads(ref).abs().max()
        new = dict(weights)
        for k, t in terms.items():
            if k in reference or not t.requires_grad:
                continue
            mean = grads(t).abs().mean()
            if mean > 0 and torch.isfinite(mean):
                lam_hat = float(g_ref / mean)
                new[k] = (1 - self.alpha) * weights[k] + self.alpha * lam_hat
        return new

    def __repr__(self):
        return f"LRAnnealing(alpha={self.alpha}, every={self.every})"


def adaptive_weighting(spec) -> LRAnnealing | None:
    """Resolve fit's ``adaptive=`` argument: None, "lra", or an LRAnnealing instance."""
    if spec is None or isinstance(spec, LRAnnealing):
        return spec
    if spec == "lra":
        return LRAnnealing()
    raise InputError(f"adaptive: expected None, 'lra' or sm.LRAnnealing(...), got {spec!r}")
