"""Loading and saving models from local directories only: nothing is ever downloaded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from workbench.errors import WorkbenchError
from workbench.models.codecs import PixelCodec, WanVAECodec
from workbench.models.text import PromptEncoder
from workbench.models.wan import LORA_TARGETS, MODEL_FILE, WanVideoModel

WAN_PIPELINES = {"WanPipeline": "t2v", "WanImageToVideoPipeline": "i2v"}
WAN_DEFAULT_SAMPLING = {
    "steps": 50,
    "guidance": 5.0,
    "shift": 3.0,
    "cfg_min_t": 0.0,
    "scheduler": "unipc",
}
SCHEDULER_NAMES = {"UniPCMultistepScheduler": "unipc", "FlowMatchEulerDiscreteScheduler": "euler"}


def load_model(
    path: str | Path, dtype: torch.dtype | None = None, empty_transformer: bool = False
) -> WanVideoModel:
    """A model from a diffusers Wan pipeline folder or a workbench checkpoint folder.

    `dtype`: of the transformer and the text and image encoders (the VAE stays fp32); None
    keeps the saved one. bf16 halves the host memory a 14B model needs while it loads.
    `empty_transformer`: the transformer's weights on the meta device, to be loaded after
    sharding from `transformer_folder(path)` (`training.parallel.load_into_shards`).

    Raises:
        WorkbenchError: the folder is missing, or is neither kind of model, or an empty
            transformer is asked of a LoRA checkpoint (its weights exist only merged).
    """
    path = Path(path)
    model_task(path)  # checks what the folder is before any weights load
    if empty_transformer and transformer_folder(path) is None:
        raise WorkbenchError(f"{path}: a LoRA checkpoint's transformer cannot load after sharding")
    if (path / MODEL_FILE).is_file():
        return _load_checkpoint(path, dtype, empty_transformer)
    return _load_diffusers_wan(path, dtype, empty_transformer)


def transformer_folder(path: str | Path) -> Path | None:
    """The folder whose safetensors hold a model folder's transformer as it runs; None for a
    LoRA checkpoint, whose transformer is its parent's with the adapter merged."""
    path = Path(path)
    info = json.loads((path / MODEL_FILE).read_text()) if (path / MODEL_FILE).is_file() else {}
    return None if info.get("kind") == "lora" else path / "transformer"


def transformer_from(folder: Path, dtype: torch.dtype | None = None, empty: bool = False):
    """Wan's transformer from its folder; `empty`: built from the config with its weights on
    the meta device (no memory) and its computed buffers (the RoPE tables) real, for
    torchtitan's order: build, shard, then load each rank's shards."""
    from diffusers import WanTransformer3DModel

    if not empty:
        return WanTransformer3DModel.from_pretrained(
            folder, torch_dtype=dtype, local_files_only=True
        )
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        return WanTransformer3DModel.from_config(WanTransformer3DModel.load_config(folder))


def load_transformer(path: str | Path, dtype: torch.dtype | None = None):
    """Only a model folder's transformer (adapters merged): a frozen reference needs no VAE,
    text or image encoder.

    Raises:
        WorkbenchError: the folder is missing, or is neither kind of model.
    """
    from diffusers import WanTransformer3DModel

    path = Path(path)
    model_task(path)
    info = json.loads((path / MODEL_FILE).read_text()) if (path / MODEL_FILE).is_file() else {}
    if info.get("kind") == "lora":
        transformer = load_transformer((path.parent / info["parent"]).resolve(), dtype)
        _merge_lora(transformer, path)
        return transformer
    return WanTransformer3DModel.from_pretrained(
        path / "transformer", torch_dtype=dtype, local_files_only=True
    )


def _merge_lora(transformer, path: Path) -> None:
    # Merged into the weights: the result is a plain model that can carry the next adapter
    # (a LoRA fine-tune of a LoRA fine-tune) or be sampled as is. Read as the pipeline does,
    # so lora_alpha comes from the file's metadata.
    from diffusers import WanPipeline

    weights, metadata = WanPipeline.lora_state_dict(path, return_lora_metadata=True)
    transformer.load_lora_adapter(weights, prefix="transformer", metadata=metadata)
    transformer.fuse_lora()
    transformer.unload_lora()


def model_task(path: str | Path) -> str:
    """'t2v' or 'i2v' for a model folder, read from its config without loading weights.

    Raises:
        WorkbenchError: the folder is missing or is not a model.
    """
    path = Path(path)
    if not path.is_dir():
        raise WorkbenchError(f"model folder not found: {path}")
    if (path / MODEL_FILE).is_file():
        return json.loads((path / MODEL_FILE).read_text())["task"]
    if (path / "model_index.json").is_file():
        index = json.loads((path / "model_index.json").read_text())
        if index.get("_class_name") not in WAN_PIPELINES:
            raise WorkbenchError(
                f"{path}: pipeline {index.get('_class_name')!r} is not a Wan2.1 pipeline "
                f"(expected one of {sorted(WAN_PIPELINES)})"
            )
        return WAN_PIPELINES[index["_class_name"]]
    raise WorkbenchError(
        f"{path} is not a model: no {MODEL_FILE} (workbench checkpoint) or model_index.json "
        "(diffusers Wan pipeline) in it"
    )


def _load_diffusers_wan(path: Path, dtype: torch.dtype | None, empty: bool) -> WanVideoModel:
    from diffusers import AutoencoderKLWan
    from transformers import AutoTokenizer, UMT5EncoderModel

    task = model_task(path)
    for part in ("transformer", "vae", "text_encoder", "tokenizer"):
        if not (path / part).is_dir():
            raise WorkbenchError(f"{path}: missing component folder {part}/")
    kw: dict[str, Any] = {"local_files_only": True}
    typed = _transformers_kw(kw, dtype)
    transformer = transformer_from(path / "transformer", dtype, empty)
    vae = AutoencoderKLWan.from_pretrained(path / "vae", torch_dtype=torch.float32, **kw)
    text_encoder = UMT5EncoderModel.from_pretrained(path / "text_encoder", **typed)
    tokenizer = AutoTokenizer.from_pretrained(path / "tokenizer", **kw)
    image_encoder = image_processor = None
    if (path / "image_encoder").is_dir():
        from transformers import CLIPImageProcessor, CLIPVisionModel

        image_encoder = CLIPVisionModel.from_pretrained(path / "image_encoder", **typed)
        image_processor = CLIPImageProcessor.from_pretrained(path / "image_processor", **kw)
    info = {
        "family": "wan",
        "codec": "wan-vae",
        "clip": None,
        "text_max_length": 512,
        "sampling": _pipeline_sampling(path),
        "source": str(path),
    }
    return WanVideoModel(
        transformer,
        PromptEncoder(tokenizer, text_encoder, 512),
        WanVAECodec(vae.eval()),
        task,
        info,
        image_encoder,
        image_processor,
    )


def _pipeline_sampling(path: Path) -> dict[str, Any]:
    """The pipeline folder's scheduler (class and flow shift) over Wan's defaults."""
    config = path / "scheduler" / "scheduler_config.json"
    if not config.is_file():
        return dict(WAN_DEFAULT_SAMPLING)
    data = json.loads(config.read_text())
    if data.get("_class_name") not in SCHEDULER_NAMES:
        raise WorkbenchError(
            f"{path}: scheduler {data.get('_class_name')!r} is not one the workbench samples "
            f"with ({', '.join(SCHEDULER_NAMES)})"
        )
    shift = data.get("flow_shift") or data.get("shift") or WAN_DEFAULT_SAMPLING["shift"]
    return {
        **WAN_DEFAULT_SAMPLING,
        "shift": float(shift),
        "scheduler": SCHEDULER_NAMES[data["_class_name"]],
    }


def _load_checkpoint(path: Path, dtype: torch.dtype | None, empty: bool) -> WanVideoModel:
    info = json.loads((path / MODEL_FILE).read_text())
    if info.get("parent"):
        parent = (path.parent / info["parent"]).resolve()
        if info["kind"] == "lora":
            model = load_model(parent, dtype)
            _merge_lora(model.transformer, path)
        else:  # the parent's other parts (its transformer never loads), this folder's
            model = load_model(parent, dtype, transformer_folder(parent) is not None)
            transformer = transformer_from(path / "transformer", dtype, empty)
            parts = (model.prompts, model.codec, model.task, model.info)
            model = WanVideoModel(transformer, *parts, model.image_encoder, model.image_processor)
        model.info = {**model.info, **{k: v for k, v in info.items() if k != "parent"}}
        return model
    return _load_standalone(path, info, dtype, empty)


def _load_standalone(
    path: Path, info: dict[str, Any], dtype: torch.dtype | None, empty: bool
) -> WanVideoModel:
    from transformers import PreTrainedTokenizerFast, UMT5EncoderModel

    if info.get("codec") != "pixel":
        raise WorkbenchError(f"{path}: a standalone checkpoint needs the pixel codec")
    kw: dict[str, Any] = {"local_files_only": True}
    transformer = transformer_from(path / "transformer", dtype, empty)
    text_encoder = UMT5EncoderModel.from_pretrained(
        path / "text_encoder", **_transformers_kw(kw, dtype)
    )
    tokenizer = PreTrainedTokenizerFast.from_pretrained(path / "tokenizer", **kw)
    prompts = PromptEncoder(tokenizer, text_encoder, info["text_max_length"])
    return WanVideoModel(transformer, prompts, PixelCodec(), info["task"], info)


def _transformers_kw(kw: dict[str, Any], dtype: torch.dtype | None) -> dict[str, Any]:
    # transformers spells diffusers' `torch_dtype` as `dtype`; None keeps the saved one.
    return {**kw, "dtype": dtype} if dtype else kw


def apply_lora(
    transformer,
    rank: int = 16,
    alpha: float = 32.0,
    targets: list[str] | None = None,
    seed: int = 0,
) -> None:
    """Add a LoRA adapter (peft) to the transformer; only its weights will train.

    peft draws the A matrices from torch's global generator; drawing them under `seed`
    makes one config and seed give one run (and an exact resume checkable against it).
    """
    from peft import LoraConfig

    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        init_lora_weights=True,
        target_modules=list(targets or LORA_TARGETS),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        transformer.add_adapter(config)


def save_model(
    model: WanVideoModel,
    path: str | Path,
    parent: str | Path | None = None,
    weights: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a checkpoint into the (new, empty) folder `path`.

    With a LoRA adapter on the transformer only the adapter is written (in the format
    diffusers' `WanPipeline.load_lora_weights` reads); with a parent only the transformer;
    otherwise every component. `weights`: the transformer's trainable weights gathered whole
    when the module holds only shards (FSDP2). Wrap in `atomic_directory` to replace a
    folder safely.
    """
    path = Path(path)
    info = dict(model.info)
    if getattr(model.transformer, "peft_config", None):
        from diffusers import WanPipeline
        from peft.utils import get_peft_model_state_dict

        if parent is None:
            raise WorkbenchError("a LoRA checkpoint needs its parent model")
        layers = get_peft_model_state_dict(model.transformer, state_dict=weights)
        # The metadata carries lora_alpha: without it diffusers assumes alpha = rank.
        metadata = model.transformer.peft_config["default"].to_dict()
        WanPipeline.save_lora_weights(
            path, transformer_lora_layers=layers, transformer_lora_adapter_metadata=metadata
        )
        info["kind"], info["lora"] = "lora", lora_config_of(model.transformer)
    elif weights is not None:  # the layout `save_pretrained` writes, from gathered weights
        from diffusers.utils import SAFETENSORS_WEIGHTS_NAME
        from safetensors.torch import save_file

        model.transformer.save_config(path / "transformer")
        save_file(weights, path / "transformer" / SAFETENSORS_WEIGHTS_NAME)
        info["kind"] = "full"
    else:
        model.transformer.save_pretrained(path / "transformer")
        info["kind"] = "full"
        if parent is None:
            model.prompts.text_encoder.save_pretrained(path / "text_encoder")
            model.prompts.tokenizer.save_pretrained(path / "tokenizer")
    info["task"] = model.task
    # The parent is recorded relative to the checkpoint, so a home can move as a whole. The
    # final folder name is what counts, not a scratch folder beside it.
    info["parent"] = None if parent is None else os.path.relpath(parent, path.parent)
    (path / MODEL_FILE).write_text(json.dumps(info, indent=2))
    return path


def non_finite_weight(path: str | Path) -> str | None:
    """The first weight ('file: tensor') of a model folder holding NaN or inf, or None."""
    from safetensors import safe_open

    path = Path(path)
    for file in sorted(path.rglob("*.safetensors")):
        with safe_open(file, "pt") as fh:
            for key in fh.keys():  # noqa: SIM118 (a safe_open handle is not iterable)
                if not bool(torch.isfinite(fh.get_tensor(key)).all()):
                    return f"{file.relative_to(path)}: {key}"
    return None


def weights_fingerprint(path: str | Path) -> str:
    """A hash over a model folder's weight files (and a checkpoint's parent chain)."""
    import hashlib

    from workbench.media import file_sha256

    path = Path(path)
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*.safetensors")):
        digest.update(f"{file.relative_to(path)}:{file_sha256(file)}".encode())
    info_file = path / MODEL_FILE
    if info_file.is_file():
        parent = json.loads(info_file.read_text()).get("parent")
        if parent:
            digest.update(weights_fingerprint((path.parent / parent).resolve()).encode())
    return digest.hexdigest()[:16]


def lora_config_of(transformer) -> dict[str, Any] | None:
    config = getattr(transformer, "peft_config", {}).get("default")
    if config is None:
        return None
    return {"rank": config.r, "alpha": config.lora_alpha, "targets": sorted(config.target_modules)}


def trainable_parameters(transformer) -> list[torch.nn.Parameter]:
    return [p for p in transformer.parameters() if p.requires_grad]


def sampling_defaults(path: str | Path) -> dict[str, Any]:
    """A model folder's recorded sampler defaults, read without loading weights."""
    path = Path(path)
    if model_task(path) and (path / MODEL_FILE).is_file():
        return json.loads((path / MODEL_FILE).read_text()).get("sampling", {})
    return _pipeline_sampling(path)
