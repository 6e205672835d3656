"""The judges' weight files: where each comes from, its checksum, and an opt-in fetch.

Nothing downloads unless `workbench judges fetch` runs. Each file comes from the source the
official code uses (open_clip's OpenAI URLs, VBench's LAION head and DINO checkpoint,
torchvision's RAFT, pyiqa's MUSIQ), or from a mirror (`--from` a folder or a URL base with the
same layout), into `<weights>/<path>` through `<path>.part` (a rerun resumes it with an HTTP
range request), and lands only once its sha256 matches the pin. A pin is the whole digest
where the source publishes it (OpenAI's URLs carry it) or the prefix the file name carries
(torchvision's and pyiqa's convention, which their own loaders check); DINO's and the LAION
head's sources publish none, so their digest is recorded at the first fetch in
`<weights>/CHECKSUMS.json` and checked from then on.

A judge that reads a whole Hugging Face repository (VideoReward: the authors' folder and its
Qwen2-VL base) has its files listed at fetch time by the Hub's API (`HUB_REPOS`): each weight
file (kept in LFS) with the sha256 the Hub publishes as its pin; the small files the Hub keeps
in git carry none and are recorded at their first fetch. `judges --verify` checks every file
with a pin or a record.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from workbench.errors import WorkbenchError, unknown_name

CHECKSUMS = "CHECKSUMS.json"
CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightFile:
    path: str
    """Where the judges look for it, relative to the weights folder."""
    url: str
    sha256: str | None
    """The whole digest, the prefix the source publishes, or None (recorded at first fetch)."""
    judges: tuple[str, ...]


OPENAI = "https://openaipublic.azureedge.net/clip/models"
WEIGHT_FILES = (
    WeightFile(
        "clip/ViT-B-32.pt",
        f"{OPENAI}/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
        "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
        ("clip-pf", "vbench-clip"),
    ),
    WeightFile(
        "clip/ViT-L-14.pt",
        f"{OPENAI}/b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",
        "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
        ("clip-aesthetic", "vbench-clip"),
    ),
    WeightFile(  # VBench's aesthetic_quality downloads this file
        "aesthetic/ViT-L-14-linear.pth",
        "https://github.com/LAION-AI/aesthetic-predictor/raw/main/sa_0_4_vit_l_14_linear.pth",
        None,
        ("clip-aesthetic", "vbench-clip"),
    ),
    WeightFile(  # VBench's subject_consistency: DINO's ViT-B/16, timm's key names
        "dino/vit_base_patch16_224.dino.pth",
        "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
        None,
        ("vbench-dino",),
    ),
    WeightFile(  # torchvision's Raft_Large_Weights.C_T_V1
        "raft/raft_large_C_T_V1-22a6c225.pth",
        "https://download.pytorch.org/models/raft_large_C_T_V1-22a6c225.pth",
        "22a6c225",
        ("vbench-raft",),
    ),
    WeightFile(  # pyiqa's MUSIQ (SPAQ), which VBench's imaging_quality loads
        "musiq/musiq_spaq_ckpt-358bb6af.pth",
        "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/musiq_spaq_ckpt-358bb6af.pth",
        "358bb6af",
        ("vbench-musiq",),
    ),
)


@dataclass(frozen=True)
class HubRepo:
    repo: str
    """The Hub's name for it, owner/name."""
    path: str
    """Where the judge reads it, relative to the weights folder."""
    judges: tuple[str, ...]


HUB = "https://huggingface.co"
HUB_REPOS = (
    HubRepo("KwaiVGI/VideoReward", "videoreward", ("videoreward",)),
    HubRepo("Qwen/Qwen2-VL-2B-Instruct", "Qwen2-VL-2B-Instruct", ("videoreward",)),
)


def files_for(judges: Iterable[str], files: tuple[WeightFile, ...] = WEIGHT_FILES) -> list:
    """The weight files the named judges need (every file when none is named), those of
    `HUB_REPOS` aside (`hub_files` lists them).

    Raises:
        WorkbenchError: a judge that needs no weight file (or none by that name).
    """
    judges = list(judges)
    known = sorted({j for f in (*files, *HUB_REPOS) for j in f.judges})
    for judge in judges:
        if judge not in known:
            raise unknown_name("judge with weight files", judge, known)
    return [f for f in files if not judges or set(f.judges) & set(judges)]


def hub_files(judges: Iterable[str], source: str | None = None) -> list[WeightFile]:
    """The files of the Hub repositories the named judges read (all when none is named), each
    with the Hub's sha256 where it publishes one: listed by the Hub's API (HF_ENDPOINT, else
    huggingface.co; `source` a URL: a mirror that answers as the Hub does) or, `source` a
    folder, found in the mirror's copy.

    Raises:
        WorkbenchError: the Hub or the mirror cannot be reached, or lacks the repository.
    """
    judges, files = list(judges), []
    for hub in HUB_REPOS:
        if judges and not set(hub.judges) & set(judges):
            continue
        if source is not None and "://" not in source:  # a mirror folder: its copy, unpinned
            folder = Path(source) / hub.path
            if not folder.is_dir():
                raise WorkbenchError(f"{folder}: not in the mirror")
            found = sorted(p for p in folder.rglob("*") if p.is_file())
            files += [
                WeightFile(f"{hub.path}/{p.relative_to(folder)}", str(p), None, hub.judges)
                for p in found
            ]
            continue
        endpoint = (source or os.environ.get("HF_ENDPOINT") or HUB).rstrip("/")
        listing = _json(f"{endpoint}/api/models/{hub.repo}/tree/main?recursive=true")
        files += [
            WeightFile(
                f"{hub.path}/{entry['path']}",
                f"{endpoint}/{hub.repo}/resolve/main/{entry['path']}",
                (entry.get("lfs") or {}).get("oid"),
                hub.judges,
            )
            for entry in listing
            if entry["type"] == "file"
        ]
    return files


def verify(weights: Path, files: Iterable[WeightFile]) -> list[dict[str, str]]:
    """Per file: ok, missing, or differs (its digest against the pin or the recorded one);
    the files recorded at a first fetch that `files` does not name (a Hub repository's) too."""
    recorded = _recorded(weights)
    files = list(files)
    named = {f.path for f in files}
    files += [WeightFile(path, "", None, ("?",)) for path in sorted(recorded) if path not in named]
    rows = []
    for f in files:
        target = weights / f.path
        if not target.is_file():
            status = "missing"
        else:
            status = "ok" if _matches(sha256_of(target), f, recorded) else "differs"
        rows.append({"file": f.path, "status": status, "judges": ", ".join(f.judges)})
    return rows


def fetch(
    weights: Path, files: Iterable[WeightFile], source: str | None = None, progress: bool = True
) -> list[dict[str, str]]:
    """Fetch every file not yet present and verified; per file what happened.

    Raises:
        WorkbenchError: a source that cannot be reached or lacks the file, a download whose
            digest differs from the pin (it is deleted), or a present file that differs.
    """
    recorded = _recorded(weights)
    rows = []
    for f in files:
        target = weights / f.path
        if target.is_file():
            if not _matches(sha256_of(target), f, recorded):
                raise WorkbenchError(
                    f"{target}: sha256 differs from the pinned one; remove it to fetch it again"
                )
            rows.append({"file": f.path, "status": "present, verified"})
            continue
        part = target.with_name(target.name + ".part")
        target.parent.mkdir(parents=True, exist_ok=True)
        origin = _origin(f, source)
        try:
            _download(origin, part, progress)
        except WorkbenchError:
            if not part.is_file():  # nothing came: leave no empty folder behind either
                _remove_empty(target.parent, weights)
            raise
        digest = sha256_of(part)
        if not _matches(digest, f, recorded):
            part.unlink()
            _remove_empty(target.parent, weights)
            pin = f.sha256 or recorded[f.path]
            raise WorkbenchError(
                f"{origin}: sha256 {digest[:16]}... is not the pinned {pin}; nothing was kept"
            )
        part.replace(target)
        # Every digest recorded: an unpinned file is trusted on first fetch, and --verify
        # finds a Hub repository's files (listed only while fetching) here.
        recorded[f.path] = digest
        (weights / CHECKSUMS).write_text(json.dumps(recorded, indent=1, sort_keys=True))
        rows.append({"file": f.path, "status": f"fetched from {origin}"})
    return rows


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _matches(digest: str, f: WeightFile, recorded: dict[str, str]) -> bool:
    pin = f.sha256 or recorded.get(f.path)
    return pin is None or digest.startswith(pin)


def _remove_empty(folder: Path, top: Path) -> None:
    while folder != top and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _recorded(weights: Path) -> dict[str, str]:
    path = weights / CHECKSUMS
    return json.loads(path.read_text()) if path.is_file() else {}


def _origin(f: WeightFile, source: str | None) -> str:
    """The file's official URL, or its place in a mirror (a folder or a URL base)."""
    if source is None:
        return f.url
    if "://" in source:
        return f"{source.rstrip('/')}/{f.path}"
    return str(Path(source) / f.path)


def _json(url: str):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise WorkbenchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise _unreachable(url, exc) from None


def _unreachable(url: str, exc: Exception) -> WorkbenchError:
    host = urllib.request.urlparse(url).netloc
    return WorkbenchError(
        f"cannot reach {host} ({getattr(exc, 'reason', exc)}): offline? fetch from a "
        "mirror with --from DIR_OR_URL"
    )


def _download(origin: str, part: Path, progress: bool) -> None:
    """Fill `part` from `origin`, resuming what an earlier run left in it."""
    if "://" not in origin:  # a local mirror
        if not Path(origin).is_file():
            raise WorkbenchError(f"{origin}: not in the mirror")
        shutil.copyfile(origin, part)
        return
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(origin, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # the part is already whole
            return
        raise WorkbenchError(f"{origin}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise _unreachable(origin, exc) from None
    with response:
        resumed = response.status == 206
        expected = int(response.headers.get("Content-Length", 0))
        start = have if resumed else 0
        total = (start + expected) or None
        name = part.name.removesuffix(".part")
        bar = tqdm(
            total=total, initial=start, desc=name, unit="B", unit_scale=True, disable=not progress
        )
        received = 0
        with open(part, "ab" if resumed else "wb") as out, bar:
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException):
                pass  # said below, with what came
    if expected and received < expected:
        raise WorkbenchError(
            f"{origin}: the download broke off after {start + received} bytes; run the fetch "
            "again to resume"
        )
