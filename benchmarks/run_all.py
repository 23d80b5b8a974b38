"""Run every benchmark (``make bench``; ``make bench-quick`` passes --quick to each).

Each script writes its JSON and markdown table to benchmarks/results/. Scripts run one after the
other in their own processes, with one BLAS/OpenMP thread, so timings do not interfere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["pinn_throughput.py", "solvers_convergence.py", "pinns.py", "linear_solvers.py", "operators.py",
           "neural_ode.py", "conv_layout.py"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    failed = []
    for script in SCRIPTS:
        print(f"== {script} {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script), *args], env=env).returncode != 0:
            failed.append(script)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
