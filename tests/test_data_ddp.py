"""Data-parallel dataset training: torchrun --nproc_per_node=2 (gloo, CPU) equals one process.

Run as a script under torchrun it trains and (rank 0) saves the parameters; the test launches it
and compares with a single-process run whose batch is the 2-rank global batch.
"""

import os
import subprocess
import sys

import torch

from sciml.data import FieldDataset
from sciml.fit import fit
from sciml.losses import RelativeL2
from sciml.nn.mgno import MgNO

PER_RANK_BATCH = 4


def train(batch_size: int) -> torch.nn.Module:
    torch.manual_seed(0)
    a = torch.rand(40, 1, 12, 12, dtype=torch.float64) + 0.5
    u = torch.nn.functional.avg_pool2d(a, 3, stride=1, padding=1) ** 2  # a smooth nonlinear target
    data = FieldDataset({"a": a, "u": u}, ("a",), "u")
    torch.manual_seed(1)
    model = MgNO(1, 1, width=4, levels=2, layers=2).double()
    fit(model, data, epochs=3, loss=RelativeL2(), batch_size=batch_size, validation=8, lr=1e-2,
        progress=False, seed=3)
    return model


def test_two_ranks_equal_one_process_with_the_global_batch(tmp_path):
    out = tmp_path / "ddp.pt"
    env = {**os.environ, "SCIML_DDP_OUT": str(out), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0",
           "--rdzv-backend=c10d", "--rdzv-endpoint=localhost:0", __file__]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ddp = torch.load(out)
    single = train(2 * PER_RANK_BATCH).state_dict()
    assert ddp.keys() == single.keys()
    for k in single:
        assert torch.allclose(ddp[k], single[k], atol=1e-10, rtol=0), k
    # and it moved: the parameters differ from the initial ones
    torch.manual_seed(1)
    init = MgNO(1, 1, width=4, levels=2, layers=2).double().state_dict()
    assert any(not torch.allclose(init[k], single[k]) for k in single)


if __name__ == "__main__":
    torch.set_num_threads(1)
    model = train(PER_RANK_BATCH)
    if int(os.environ.get("RANK", "0")) == 0:
        torch.save(model.state_dict(), os.environ["SCIML_DDP_OUT"])
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
