"""What `sciml.fit` trains on: a task turns a problem or dataset into loss terms and metrics.

`PDETask` (physics-informed, from a `Problem`) lives in `pde.py`; `DatasetTask` (operator
learning, from a torch Dataset) in `dataset.py`. `fit` owns the loop; tasks own the data.
"""

from .base import Task
from .dataset import DatasetTask
from .lpinn import LPINNTask
from .pde import PDETask

__all__ = ["Task", "PDETask", "DatasetTask", "LPINNTask"]
