"""Convolution memory layout: channels-last against contiguous weights for MgNO and the DCDM network.

Both networks keep their weights channels-last (``MgNO.__init__``, ``DCDMNet.__init__``); this script
measures why. Each case times the same weights in both layouts, interleaved (so machine load hits
both alike), one torch thread, and reports the median of the repeats and the output difference.

    python benchmarks/conv_layout.py [--quick] [--repeats N] [--out NAME]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import markdown_table, write_results  # noqa: E402
from sciml.linalg.dcdm_net import DCDMNet  # noqa: E402
from sciml.nn.mgno import MgNO  # noqa: E402


def cases(quick: bool) -> list[dict]:
    """Network factory, input shape and mode per case: the shapes of the training recipes (MgNO's 64²
    Darcy batches; the DCDM recipe's largest training grids and batches) and of one DCDM iteration at
    1024² (one residual; the odd network evaluates r and −r as one batch of two inside). Quick mode
    shrinks the DCDM grids."""
    n2, n3, ninf = (32, 16, 128) if quick else (128, 32, 1024)
    dcdm2 = functools.partial(DCDMNet, 2, "multilevel", odd=True)
    return [
        dict(name="MgNO width 24, levels 5, layers 4: training step", net=lambda: MgNO(1, 1, 24, 5, 4),
             shape=(8, 1, 64, 64), train=True),
        dict(name="DCDM net (2-D multilevel): training step", net=dcdm2, shape=(8, 1, n2, n2), train=True),
        dict(name="DCDM net (2-D multilevel): one solver iteration", net=dcdm2, shape=(1, 1, ninf, ninf),
             train=False),
        dict(name="DCDM net (3-D multilevel): training step", net=lambda: DCDMNet(3, "multilevel", odd=True),
             shape=(4, 1, n3, n3, n3), train=True),
    ]


def time_call(net: torch.nn.Module, x: torch.Tensor, train: bool) -> float:
    tic = time.perf_counter()
    if train:
        net.zero_grad(set_to_none=True)
        net(x).square().mean().backward()
    else:
        with torch.no_grad():
            net(x)
    return time.perf_counter() - tic


def measure(case: dict, repeats: int) -> dict:
    torch.manual_seed(0)
    fast = case["net"]()
    plain = case["net"]()
    plain.load_state_dict(fast.state_dict())
    plain.to(memory_format=torch.contiguous_format)
    x = torch.randn(case["shape"])
    with torch.no_grad():
        y, y0 = fast(x), plain(x)
    diff = float((y - y0).abs().max() / y0.abs().max())
    times = {"channels_last": [], "contiguous": []}
    for _ in range(repeats + 1):  # the first round warms up both
        for key, net in (("channels_last", fast), ("contiguous", plain)):
            times[key].append(time_call(net, x, case["train"]))
    last, cont = statistics.median(times["channels_last"][1:]), statistics.median(times["contiguous"][1:])
    return {"case": case["name"], "input": "x".join(map(str, case["shape"])), "contiguous s": cont,
            "channels-last s": last, "speed-up": round(cont / last, 2), "max rel. output diff": diff}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small grids, 2 repeats")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per layout (default 5, quick 2)")
    p.add_argument("--out", default=None, help="results name (default conv_layout[_quick])")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    repeats = args.repeats or (2 if args.quick else 5)
    rows = [measure(c, repeats) for c in cases(args.quick)]
    columns = ["case", "input", "contiguous s", "channels-last s", "speed-up", "max rel. output diff"]
    notes = (f"Median of {repeats} interleaved repeats per layout after one warm-up, one torch thread; "
             "the same weights in both layouts.")
    name = args.out or ("conv_layout_quick" if args.quick else "conv_layout")
    write_results(name, {"quick": args.quick, "repeats": repeats, "rows": rows}, markdown_table(rows, columns), notes)
    print(markdown_table(rows, columns))
    return {"rows": rows}


if __name__ == "__main__":
    main()
