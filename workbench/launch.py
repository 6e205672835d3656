"""Several processes for one command, on one machine or many: torchrun underneath.

`--nproc N` on one machine starts the same command again as N processes under torchrun
(`relaunch`); on several machines the user starts torchrun on each (README, "Training on
several processes"). A process torchrun started is never relaunched. Generation, GT-Pair
rollouts and `workbench eval` split their work with `share` and meet at `wait_for_all`;
training builds its own mesh (training/parallel/).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import torch

T = TypeVar("T")
ERRORS_ENV = "WORKBENCH_WORKER_ERRORS"
LAUNCHER_ENV = "WORKBENCH_LAUNCHER_PID"
# torch is imported where it is needed: every command's output asks `is_main`, and
# `workbench --help` should not wait for torch.


def launched_rank() -> int | None:
    """This process's rank when started by torchrun (or a test's spawn), else None."""
    return int(os.environ["RANK"]) if "RANK" in os.environ else None


def is_main() -> bool:
    """The process that writes what the command writes once (rank 0, or the only one)."""
    return launched_rank() in (None, 0)


def local_device() -> torch.device | None:
    """The accelerator this process owns under torchrun (one per process), else None."""
    import torch

    if torch.cuda.is_available() and launched_rank() is not None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return None


def relaunch(argv: Sequence[str], nproc: int) -> int | None:
    """With `nproc` > 1 outside torchrun: run the command as `nproc` processes and return
    their exit status. Under torchrun: join the other workers and return None (go on).

    Raises:
        WorkbenchError: `nproc` < 1.
    """
    if nproc < 1:
        raise WorkbenchError(f"--nproc must be >= 1, got {nproc}")
    if launched_rank() is None:
        return torchrun(argv, nproc) if nproc > 1 else None
    join_workers()
    return None


def torchrun(argv: Sequence[str], nproc: int) -> int:
    """Run `python -m workbench ARGV` as `nproc` local processes under torchrun's agent, in
    this process; their exit status. A worker's error is its own one line: torchrun's
    report of a failed child (a traceback) is left out. (The `--` keeps torchrun from
    reading ARGV: it takes `--r` for its own `--rdzv-*`.)

    On a CPU each process gets an equal share of the cores (two torch processes with a
    thread per core each thrash)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    os.environ.setdefault("OMP_NUM_THREADS", str(cpu_share(nproc)))
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    args = get_args_parser().parse_args(
        ["--standalone", f"--nproc-per-node={nproc}", "-m", "workbench", "--", *argv]
    )
    with tempfile.TemporaryDirectory() as errors:
        os.environ[ERRORS_ENV] = errors
        os.environ[LAUNCHER_ENV] = str(os.getpid())
        try:
            run(args)
        except ChildFailedError:
            print(first_error(Path(errors)), file=sys.stderr)
            return 1
        finally:
            del os.environ[ERRORS_ENV], os.environ[LAUNCHER_ENV]
    return 0


def first_error(folder: Path) -> str:
    """What to say when workers failed: the error that came first, once. The others are
    mostly its echo (a peer's collective fails with "Connection closed by peer" once the
    failed rank is gone; torchrun's agent stops the rest), so they are only counted; a bug's
    traceback comes with it."""
    reports = sorted(
        (json.loads(p.read_text()) for p in folder.glob("rank*.json")), key=lambda r: r["time"]
    )
    if not reports:
        return "error: a worker died without a word (killed? out of memory?)"
    first, others = reports[0], len(reports) - 1
    echo = f" ({others} other rank{'s' * (others > 1)} stopped after it)" if others else ""
    return f"{first['traceback']}error: rank {first['rank']}: {first['message']}{echo}"


def cpu_share(nproc: int) -> int:
    """Threads for each of `nproc` processes on this machine: two torch processes with a
    thread per core each thrash on a machine of few cores."""
    return max(1, (os.cpu_count() or 1) // nproc)


def report_error(message: str, traceback: str = "") -> None:
    """A command's one error line: on stderr, or under `torchrun` above for the launcher to
    say once (with the time, so it can tell the first failure from its echoes)."""
    import time

    folder = os.environ.get(ERRORS_ENV)
    if folder and launched_rank() is not None:
        report = {
            "rank": launched_rank(),
            "time": time.time(),
            "message": message,
            "traceback": traceback,
        }
        (Path(folder) / f"rank{launched_rank():05d}.json").write_text(json.dumps(report))
    else:
        print(f"error: {message}", file=sys.stderr)


def report_worker_crash(exc: BaseException) -> bool:
    """An unexpected exception in a worker of `torchrun` above: handed to the launcher with
    its traceback (True); elsewhere False, and the caller lets it rise."""
    import traceback

    if not (os.environ.get(ERRORS_ENV) and launched_rank() is not None):
        return False
    report_error(f"{type(exc).__name__}: {exc}", traceback.format_exc())
    return True


def join_workers(backend: str = "gloo") -> None:
    """Join the process group of this torchrun launch (once)."""
    import torch.distributed as dist

    if not dist.is_initialized():
        die_with_launcher()
        dist.init_process_group(backend)


def share(items: list[T]) -> list[T]:
    """This process's share of the work: every N-th item from its rank on (all of it
    outside torchrun)."""
    import torch.distributed as dist

    if not dist.is_initialized():
        return items
    return items[dist.get_rank() :: dist.get_world_size()]


def wait_for_all() -> None:
    """Meet the other processes: past this point every share's results are in the store."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()


def die_with_launcher() -> None:
    """A worker of torchrun is killed when torchrun dies: torchrun starts its workers in
    sessions of their own, so a killed torchrun (OOM killer, SIGKILL) would leave them
    working on. Linux only (prctl PR_SET_PDEATHSIG); elsewhere nothing. A launcher that died
    before the signal was armed never sends it: then the parent is no longer the launcher
    `torchrun` above recorded, and the worker leaves at once."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    launcher = os.environ.get(LAUNCHER_ENV)
    if launcher and os.getppid() != int(launcher):
        os._exit(1)


def spawn(fn: Callable[..., None], nproc: int, *args: Any) -> None:
    """fn(rank, *args) in `nproc` new processes on this machine, joined the way torchrun joins
    its workers (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR / PORT in the environment), each
    with its share of the CPU cores. For benchmarks and tests that drive several processes
    from Python; the CLI goes through `torchrun`. `fn` must be importable (a module's)."""
    import torch.multiprocessing as mp

    mp.spawn(_spawned, args=(nproc, free_port(), fn, args), nprocs=nproc)


def _spawned(rank: int, nproc: int, port: int, fn: Callable[..., None], args: tuple) -> None:
    import torch
    import torch.distributed as dist

    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(nproc),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(cpu_share(nproc))
    fn(rank, *args)
    if dist.is_initialized():
        # Tear down together: a rank that destroys gloo's groups while its peer is still in
        # the last collective can abort ("terminate called without an active exception").
        dist.barrier()
        dist.destroy_process_group()
    # And leave without the interpreter's finalization: a group outlives its destruction
    # while a DeviceMesh still holds it, and gloo's threads torn down during finalization
    # abort the process now and then (SIGABRT after the work is done; pytorch#179291).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
