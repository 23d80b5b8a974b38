"""MultiONet (Zang & Koutsourelakis, J. Comput. Phys. 538:114137, 2025; arXiv 2502.06250).

Branch ``g^k(a)`` and trunk ``h^k(y)`` MLPs of equal widths, every layer activated. The output sums
inner products over the last ``l = sum_layers`` depths with learnable scalar weights:

    u(y; a) = (1/l) Σ_{k=L−l+1..L} w_k ⟨g^k(a), h^k(y)⟩ + b,    w_k = b = 0 at init

(``Networks/MultiONets.py`` of yaohua32/DGenNO: the output starts at 0). ``l = 1, w = 1`` is an
unstacked DeepONet whose branch head is activated. Same evaluation paths as :class:`DeepONet`
(pointwise, batched, cartesian), so it is a drop-in replacement; the overhead is ``l`` scalars.

Activations. Every summed layer is activated, so the activation must be signed: with ReLU (or
any non-negative activation) on both nets every ⟨g^k, h^k⟩ is ≥ 0 and the output is a combination
of l non-negative functions, which cripples the model (DeepONet keeps a linear branch head for
this reason). The defaults are the reference's identity-skewed activations, trunk
``tanh_sin`` = tanh(sin(π(y+1))) + y and branch ``silu_id`` = SiLU(v) + v
(``Networks/FunActivation.py``; the DGNO decoders use these or ``silu_sin``). The data-driven
Darcy examples differ: DGenNO's ``MultiONetBatch_DarcyFlow_continuous`` uses trunk SiLU_Sin and
branch SiLU after a CNN encoder, the paper's benchmark notebook (yaohua32/Deep-Neural-Operators-for-PDEs
``MultiONetCartesian_DarcyFlowSMH``) ReLU on both with ``w = 1`` at init. On our Darcy smooth 64²
benchmark (conv branch, 20 epochs) ``silu_sin``/``silu`` gave test rel. L2 0.093 against 0.051 with
the defaults.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import check
from .deeponet import BranchTrunk


class MultiONet(BranchTrunk):
    """``MultiONet(branch=[m, w, …, w], trunk=[d, w, …, w], sum_layers=l)``; ``l`` < number of layers.

    ``activation`` is the trunk's (and the branch's when ``branch_activation=None``). ``encoder``: an
    optional module before the branch MLP (e.g. :class:`~sciml.nn.deeponet.ConvEncoder`, as the
    reference's Darcy examples), see :class:`~sciml.nn.deeponet.BranchTrunk`. ``w_init``: initial
    depth weights (0: DGenNO's ``Networks/MultiONets.py``, the output starts at 0; 1: the earlier
    yaohua32/Deep-Neural-Operators-for-PDEs version, which also sums every hidden depth).
    """

    def __init__(
        self,
        branch: Sequence[int],
        trunk: Sequence[int],
        sum_layers: int = 4,
        activation="tanh_sin",
        branch_activation="silu_id",
        encoder: nn.Module | None = None,
        w_init: float = 0.0,
    ):
        super().__init__(branch, trunk, activation, branch_activation, activate_branch_head=True, encoder=encoder)
        check(
            len(branch) == len(trunk),
            f"branch, trunk: expected the same depth, got {len(branch)} and {len(trunk)}",
        )
        check(
            isinstance(sum_layers, int) and 1 <= sum_layers <= len(branch) - 1,
            f"sum_layers: expected an integer in [1, {len(branch) - 1}], got {sum_layers!r}",
        )
        for k in range(len(branch) - sum_layers, len(branch)):
            check(
                branch[k] == trunk[k], f"branch, trunk: summed depth {k} has widths {branch[k]} != {trunk[k]}"
            )
        self.sum_layers = sum_layers
        self.w = nn.Parameter(torch.full((sum_layers,), float(w_init)))
        self.b = nn.Parameter(torch.zeros(()))

    def combine(self, b: list, t: list, equation: str) -> torch.Tensor:
        l = self.sum_layers
        out = sum(w * torch.einsum(equation, bk, tk) for w, bk, tk in zip(self.w, b[-l:], t[-l:]))
        return out / l + self.b
