"""`workbench env`: versions and what is available on this machine."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import platform

from workbench.cli.output import emit
from workbench.provenance import code_version
from workbench.store import default_home

PACKAGES = (
    "torch",
    "diffusers",
    "transformers",
    "accelerate",
    "peft",
    "gradio",
    "duckdb",
    "av",
    "open-clip-torch",
    "numpy",
    "flash-attn",
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("env", help="versions, devices and optional features")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    info: dict[str, str] = {
        "workbench": code_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "home": str(args.home or default_home()),
    }
    for name in PACKAGES:
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[name] = "not installed"
    if importlib.util.find_spec("torch") is not None:
        import torch

        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
        info["threads"] = str(torch.get_num_threads())
    emit(args, info, [{"component": k, "version": v} for k, v in info.items()])
    return 0
