import os

import pytest
import torch

# Two cores: one thread per test process keeps timings sane when other jobs run.
torch.set_num_threads(int(os.environ.get("SCIML_TEST_THREADS", "1")))


@pytest.fixture(autouse=True)
def _default_dtype():
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(torch.float32)
