"""How the processes of one run divide the work.

A run of N processes is a DeviceMesh of four dimensions, outermost first:

    pair      2 with split pair parallel (winners on one half, losers on the other), else 1
    dp_shard  data parallel: each group takes its own slice of the batch
    ring      context parallel by ring attention (diffusers; needs an accelerator backend)
    ulysses   context parallel by Ulysses all-to-all (diffusers; the default for --cp)

Parameters are sharded (FSDP2) over all of them flattened, as torchtitan shards over
`dp_shard_cp` (torchtitan/distributed/parallel_dims.py): every process holds 1/N of the
weights whatever its role. Ranks that share a data slice (pair, ring, ulysses) each compute
part of the same loss, so their parameter gradients add up, while data-parallel gradients
average; FSDP averages over all N, hence `loss_scale`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh

from workbench.errors import WorkbenchError
from workbench.launch import die_with_launcher

PAIR_MODES = ("fused", "split", "sequential")
MESH_DIMS = ("pair", "dp_shard", "ring", "ulysses")


@dataclass(frozen=True)
class ParallelPlan:
    """The layout asked for on the command line; `dp_shard` defaults to what is left."""

    nproc: int = 1
    dp_shard: int | None = None
    cp: int = 1
    pair: str = "fused"

    def __post_init__(self) -> None:
        if self.pair not in PAIR_MODES:
            raise WorkbenchError(f"--pair-parallel must be one of {PAIR_MODES}, got {self.pair!r}")
        if min(self.nproc, self.cp, self.dp_shard or 1) < 1:
            raise WorkbenchError("--nproc, --dp-shard and --cp must be >= 1")
        if self.nproc % (self.pair_degree * self.cp):
            raise WorkbenchError(
                f"--nproc {self.nproc} is not a multiple of --cp {self.cp} x pair groups "
                f"{self.pair_degree}"
            )
        if self.pair_degree * self.data_degree * self.cp != self.nproc:
            raise WorkbenchError(
                f"--nproc {self.nproc} != pair groups {self.pair_degree} x --dp-shard "
                f"{self.data_degree} x --cp {self.cp}"
            )

    @property
    def pair_degree(self) -> int:
        return 2 if self.pair == "split" else 1

    @property
    def data_degree(self) -> int:
        return self.dp_shard or self.nproc // (self.pair_degree * self.cp)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.pair_degree, self.data_degree, 1, self.cp)

    def to_dict(self) -> dict:
        return asdict(self) | {"dp_shard": self.data_degree}


@dataclass
class Parallel:
    """This process's place in the mesh and the groups it talks to."""

    plan: ParallelPlan
    mesh: DeviceMesh
    fsdp_mesh: DeviceMesh
    """All dimensions flattened: parameters are sharded over every process."""

    @property
    def rank(self) -> int:
        return dist.get_rank()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def dp_rank(self) -> int:
        return self.mesh["dp_shard"].get_local_rank()

    @property
    def pair_side(self) -> str:
        """'w' or 'l': the side of every pair this process computes under split pair parallel."""
        return "wl"[self.mesh["pair"].get_local_rank()]

    @property
    def loss_scale(self) -> float:
        """FSDP averages gradients over all N ranks; ranks sharing a data slice hold parts
        of one gradient that must add up instead."""
        return float(self.plan.pair_degree * self.plan.cp)

    def group(self, dim: str):
        return self.mesh[dim].get_group()

    def barrier(self) -> None:
        dist.barrier()

    def from_main(self, value: Any) -> Any:
        """Rank 0's `value` on every rank, so all act on one state (a file another run may
        replace between two ranks' reads is read once). An object collective: with
        `process_group_backend` it travels over gloo, in CPU memory."""
        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def process_group_backend(device_type: str) -> str:
    """NCCL for CUDA tensors with gloo beside it for CPU ones, gloo alone on a CPU: an
    NCCL-only group has no backend for a CPU tensor ("No backend type associated with device
    type cpu"), and object collectives, flags and barriers would die at the first step.
    torchtitan's init_distributed (torchtitan/distributed/utils.py) pairs them the same way
    when asked to (enable_cpu_backend)."""
    return "cpu:gloo,cuda:nccl" if device_type == "cuda" else "gloo"


def init_parallel(plan: ParallelPlan, device: torch.device) -> Parallel:
    """Join (or start) the process group and build the mesh (`process_group_backend`).

    Raises:
        WorkbenchError: the process group's size differs from the plan's.
    """
    if not dist.is_initialized():
        die_with_launcher()
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(process_group_backend(device.type))
    if dist.get_world_size() != plan.nproc:
        raise WorkbenchError(
            f"{dist.get_world_size()} processes were started for a plan of --nproc {plan.nproc}"
        )
    mesh = init_device_mesh(device.type, plan.shape, mesh_dim_names=MESH_DIMS)
    return Parallel(plan, mesh, mesh[MESH_DIMS]._flatten("fsdp"))
