"""`--nproc N` on one machine: the same command again as N processes under torchrun.

Several machines: start torchrun on each yourself with its rendezvous flags (README,
"Training on several devices"); a process torchrun started is never relaunched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence


def torchrun(argv: Sequence[str], nproc: int) -> int:
    """Run `python -m workbench ARGV` as `nproc` local processes; their exit status. (The
    `--` keeps torchrun from reading ARGV: it takes `--r` for its own `--rdzv-*`.)

    On a CPU each process gets an equal share of the cores (two torch processes with a
    thread per core each thrash)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={nproc}", "-m", "workbench", "--", *argv]  # fmt: skip
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    return subprocess.run(command, env=env).returncode


def die_with_launcher() -> None:
    """A worker of torchrun is killed when torchrun dies: torchrun starts its workers in
    sessions of their own, so a killed torchrun (OOM killer, SIGKILL) would leave them
    training on. Linux only (prctl PR_SET_PDEATHSIG); elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
