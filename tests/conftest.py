"""Shared by every test: torch uses one CPU thread. The project's machines have two cores, and two threads
contending with the test runner slow small models down many times over."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
