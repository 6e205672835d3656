"""Training checkpoints: model weights plus everything needed to resume exactly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from workbench.atomic import atomic_directory, existing_version
from workbench.errors import WorkbenchError
from workbench.models.loading import save_model
from workbench.models.wan import LORA_FILE, WanVideoModel

STATE_FILE = "training_state.pt"


def save_training_checkpoint(
    path: Path,
    model: WanVideoModel,
    parent: Path | None,
    state: dict[str, Any],
    weights: dict[str, torch.Tensor] | None = None,
    extra: Callable[[Path], None] | None = None,
) -> None:
    """Weights and training state together, replacing the folder atomically. `weights`:
    gathered from shards (see `save_model`); `extra` adds to the new folder (a sharded
    run's shards)."""
    with atomic_directory(path) as tmp:
        save_model(model, tmp, parent, weights)
        torch.save(state, tmp / STATE_FILE)
        if extra is not None:
            extra(tmp)


def load_training_state(path: Path) -> tuple[Path, dict[str, Any]]:
    """The last complete checkpoint folder of an unfinished run and its state.

    Raises:
        WorkbenchError: there is nothing to resume.
    """
    folder = existing_version(path)
    if folder is None or not (folder / STATE_FILE).is_file():
        raise WorkbenchError(f"nothing to resume: no training state in {path}")
    return folder, torch.load(folder / STATE_FILE, weights_only=False)


def restore_weights(model: WanVideoModel, folder: Path) -> None:
    """Load a run's saved trainable weights into a model built the same way."""
    from safetensors.torch import load_file

    if getattr(model.transformer, "peft_config", None):
        from peft.utils import set_peft_model_state_dict

        saved = load_file(folder / LORA_FILE)
        state = {k.removeprefix("transformer."): v for k, v in saved.items()}
        set_peft_model_state_dict(model.transformer, state)
    else:
        from diffusers import WanTransformer3DModel

        saved = WanTransformer3DModel.from_pretrained(folder / "transformer", local_files_only=True)
        model.transformer.load_state_dict(saved.state_dict())
    if model.prompts.trainable:
        from transformers import UMT5EncoderModel

        text = UMT5EncoderModel.from_pretrained(folder / "text_encoder", local_files_only=True)
        model.prompts.text_encoder.load_state_dict(text.state_dict())
