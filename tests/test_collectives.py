"""Every collective of a training step has a backend for its tensors under the CUDA process
group, checked without a GPU: NCCL serves only CUDA tensors, which gloo registered for the
cuda device type alone reproduces on a CPU ("No backend type associated with device type
cpu", the error that stopped every NCCL run at its first step)."""

import subprocess
import sys
from pathlib import Path

from training.parallel.mesh import process_group_backend

ROOT = Path(__file__).resolve().parents[1]

STEP_COLLECTIVES = """
import os, sys, types
import torch.distributed as dist
sys.path.insert(0, {root!r})
from training.parallel.mesh import Parallel
from training.trainer import _all_ranks
os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT={port!r})
dist.init_process_group({backend!r}, rank=0, world_size=1)
par = types.SimpleNamespace(mesh=types.SimpleNamespace(device_type="cpu"))
assert _all_ranks(True, par) and not _all_ranks(False, par)  # a step's finite-loss flag
gathered = [None]
dist.all_gather_object(gathered, [{{"loss": 1.0}}])  # the step's stats
table = {{(0, 0): (1.0, 2.0)}}  # the cached reference's table, as rank 0 read it
assert Parallel.from_main(types.SimpleNamespace(is_main=True), table) == table
dist.barrier()
dist.destroy_process_group()
print("ok")
"""


def as_on_a_cpu(backend: str) -> str:
    """The backend spec with NCCL played by gloo for the cuda device type only."""
    return (
        backend.replace("cuda:nccl", "cuda:gloo")
        if "cuda:" in backend
        else (backend.replace("nccl", "cuda:gloo"))
    )


def test_cpu_tensors_have_a_backend_in_the_cuda_process_group():
    from workbench.launch import free_port

    assert process_group_backend("cpu") == "gloo"
    for backend, works in ((process_group_backend("cuda"), True), ("nccl", False)):
        script = STEP_COLLECTIVES.format(
            root=str(ROOT), port=str(free_port()), backend=as_on_a_cpu(backend)
        )
        env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
        run = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
        )
        assert (run.returncode == 0) == works, (backend, run.stderr[-1500:])
        if not works:  # what NCCL alone did to the step
            assert "No backend type associated with device type cpu" in run.stderr
