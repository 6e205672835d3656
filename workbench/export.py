"""`workbench checkpoints export`: a checkpoint as a folder others load with diffusers as it is
(a LoRA adapter with `load_lora_weights` / `load_lora_adapter`, a full fine-tune's transformer
with `from_pretrained(..., subfolder="transformer")`), with a model card in the Hub's format
(huggingface_hub's `ModelCard`: YAML metadata with `model-index` results, then prose): the
base model, the method, the pair set and where it came from, the recipe, seed and code
version, and the checkpoint's evaluation against its base with 95% intervals, all read from
the store."""

from __future__ import annotations

import shutil
from pathlib import Path

from workbench.atomic import atomic_directory
from workbench.checkpoint_registry import CheckpointRef, checkpoint_config, resolve_checkpoint
from workbench.errors import WorkbenchError
from workbench.report import report_tables
from workbench.report.queries import pairset_label, provenance
from workbench.report.tables import headline
from workbench.store import Store

LORA_FILE = "pytorch_lora_weights.safetensors"
RECIPE = ("steps", "batch_size", "lr", "beta", "r", "r_scale", "lora", "lora_rank", "lora_alpha")
RECIPE += ("prompt_dropout", "timesteps", "t_shift", "reference", "precision")


def export_checkpoint(store: Store, name: str, out: Path, dataset: str = "shapes") -> Path:
    """Write the checkpoint's weights and README.md (its card) into the new folder `out`.

    Raises:
        WorkbenchError: an unknown checkpoint, one without weights of its own (an external
            source of videos), or an `out` that exists.
    """
    ref = resolve_checkpoint(store, name)
    if out.exists():
        raise WorkbenchError(f"{out} exists; export into a new folder")
    lora = ref.path / LORA_FILE
    if not lora.is_file() and not (ref.path / "transformer").is_dir():
        raise WorkbenchError(f"checkpoint {name!r} has no weights of its own to export")
    with atomic_directory(out) as folder:
        if lora.is_file():
            shutil.copyfile(lora, folder / LORA_FILE)
        else:
            shutil.copytree(ref.path / "transformer", folder / "transformer")
        model_card(store, ref, dataset, lora.is_file()).save(folder / "README.md")
    return out


def model_card(store: Store, ref: CheckpointRef, dataset: str, lora: bool):
    from huggingface_hub import ModelCard, ModelCardData

    config = checkpoint_config(store, ref.name)
    made = provenance(store, [ref.name], "workbench checkpoints export")
    run = made["checkpoints"].get(ref.name, {})
    results, table = _evaluation(store, ref, dataset)
    data = ModelCardData(
        model_name=ref.name,
        base_model=ref.parent,
        library_name="diffusers",
        pipeline_tag="image-to-video" if ref.task == "i2v" else "text-to-video",
        tags=["wan", "video-generation", ref.method, *(["lora"] if lora else [])],
        eval_results=results or None,
    )
    pairs = config.get("pairs")
    training = {
        "method": ref.method,
        "base model": ref.parent or "(trained from scratch)",
        "preference data": pairset_label(store, pairs) if pairs else "(none: supervised)",
        "recipe": ", ".join(f"{k}={config[k]}" for k in RECIPE if k in config),
        "seed": run.get("seed"),
        "code version": run.get("code_version"),
    }
    load = (
        f'pipe.load_lora_weights("{ref.name}")  # on a pipeline of {ref.parent}'
        if lora
        else f'WanTransformer3DModel.from_pretrained("{ref.name}", subfolder="transformer")'
    )
    text = "\n".join(
        [
            f"# {ref.name}",
            "",
            f"A {'LoRA adapter' if lora else 'full fine-tune'} of `{ref.parent}` trained with "
            f"{ref.method} by the Reg-DPO Workbench. Exported {made['date']} by "
            f"{made['code_version']}.",
            "",
            "```python",
            load,
            "```",
            "",
            "## Training",
            "",
            "| | |",
            "|---|---|",
            *(f"| {k} | {v} |" for k, v in training.items()),
            "",
            "## Evaluation",
            "",
            *table,
        ]
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{text}\n")


def _evaluation(store: Store, ref: CheckpointRef, dataset: str) -> tuple[list, list[str]]:
    """The Hub's eval results and the card's table: judged means on the test prompts, and per
    aspect the win rate and paired mean difference against the base, with 95% intervals."""
    from huggingface_hub import EvalResult

    base = ref.parent or "base"
    t = report_tables(store, dataset, "test", [ref.name, base], reference=base)
    if ref.name not in t.scores:
        return [], ["Not evaluated yet: run `workbench eval --ckpt " + ref.name + "`."]
    task = "image-to-video" if ref.task == "i2v" else "text-to-video"
    results, rows = [], []
    where = (dataset, f"{dataset} (test)")
    means = headline(t.scores[ref.name])
    base_means = headline(t.scores.get(base, {}))
    for label, value in means.items():
        results.append(EvalResult(task, *where, f"mean_{label}", value))
    for g in t.gsb:
        if (g["A"], g["B"]) != (ref.name, base):
            continue
        results.append(EvalResult(task, *where, f"win_rate_vs_{base}_{g['aspect']}", g["win_rate"]))
        lo, hi = g["win_rate_ci"]
        p = g.get("paired") or {}
        diff = f"{p['mean_diff']:+.3f} ({p['diff_lo']:+.3f} to {p['diff_hi']:+.3f})" if p else ""
        rate = f"{g['win_rate']:.3f} ({lo:.3f} to {hi:.3f})"
        verdict = p.get("verdict", "").replace("A better", f"{ref.name} better")
        verdict = verdict.replace("B better", f"{base} better")
        rows.append(f"| {g['aspect']} ({g['judge']}) | {rate} | {diff} | {verdict} |")
    return results, [
        f"On {len(t.scores[ref.name])} {dataset} test prompts, scored by the workbench's judges.",
        "",
        f"| judge | {ref.name} | {base} |",
        "|---|---|---|",
        *(f"| {k} | {v:.4f} | {base_means.get(k, float('nan')):.4f} |" for k, v in means.items()),
        "",
        f"| aspect | win rate vs {base} (95% CI) | mean difference (95% CI) | verdict |",
        "|---|---|---|---|",
        *rows,
    ]
