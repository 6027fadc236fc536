"""Makes an imported model a plain Hugging Face directory (a GGUF file dequantized through
transformers, or a model directory copied) and checks that it loads as the bot loads models."""

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from bot.engine import Engine, load_causal_lm
from bot.gguf_header import read_gguf_header
from bot.import_errors import ImportCheckFailed, UnsupportedModel
from bot.model_import import Steps
from bot.prompt import build_prompt

# A short chat both models must score alike: one forward pass, well under a second.
PROBE_SYSTEM = "You are the support assistant of a small outdoor shop."
PROBE = [{"role": "user", "content": "Hi! Can I still return a jacket I bought last week?"}]


def convert_gguf(path: Path, destination: Path, *, steps: Steps) -> dict[str, Any]:
    """Dequantize `path` to float32, save it in `destination`, check the saved directory answers
    the probe exactly as the GGUF load does; returns the facts the origin records."""
    with steps("reading the GGUF header"):
        header = read_gguf_header(path)
    with steps("dequantizing"):
        model, tokenizer = load_gguf(path)
        expected = probe(model, tokenizer)
    with steps("saving"):
        save_plain(model, tokenizer, destination)
    parameters = count_parameters(model)
    del model  # the check loads a second copy
    with steps("checking it loads as the bot loads it"):
        engine = load_as_bot(destination)
        token_ids, logits = probe(engine.model, engine.tokenizer)
        if token_ids != expected[0] or not torch.allclose(logits, expected[1]):
            raise ImportCheckFailed(
                f"the directory saved from {path.name} tokenizes or scores the probe chat "
                "differently from the GGUF load: transformers' GGUF support may have changed"
            )
    return {
        "architecture": header.architecture,
        "quantization": header.quantization,
        "dtype": "float32",
        "parameters": parameters,
    }


def copy_directory(
    source: Path, files: list[Path], destination: Path, *, steps: Steps
) -> dict[str, Any]:
    """Copy a model directory's `files` into `destination` and check the copy loads and
    scores the probe; returns the facts the origin records."""
    with steps("copying"):
        for file in files:
            target = destination / file.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
    with steps("checking it loads as the bot loads it"):
        try:
            engine = load_as_bot(destination)
            _, logits = probe(engine.model, engine.tokenizer)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problem = str(exc).replace(str(destination), str(source))  # not the draft's name
            raise UnsupportedModel(
                f"{source} does not load as a causal LM with a chat template: {problem}"
            ) from exc
        if not torch.isfinite(logits).all():
            raise ImportCheckFailed(f"{source} scores the probe chat with NaN or inf logits")
    config = json.loads((source / "config.json").read_text())
    return {
        "architecture": engine.model.config.model_type,
        "dtype": config.get("dtype") or config.get("torch_dtype"),
        "parameters": count_parameters(engine.model),
    }


def load_gguf(path: Path):
    """The GGUF's model in float32 and its tokenizer, through transformers' GGUF support
    (about 30 s for SmolLM2-135M on 2 cores: every tensor is dequantized)."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = load_causal_lm(path.parent, gguf_file=path.name)
    except ValueError as exc:  # an architecture transformers cannot dequantize, for one
        raise UnsupportedModel(f"transformers cannot load {path.name}: {exc}") from exc
    return model.eval(), tokenizer


def save_plain(model, tokenizer, destination: Path) -> None:
    """Save the weights as an ordinary checkpoint: the same state dict in a model built from
    the config without its GGUF quantization config, so later loads need no GGUF file."""
    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict(), strict=True)
    plain.save_pretrained(destination)
    tokenizer.save_pretrained(destination)


def load_as_bot(directory: Path) -> Engine:
    """On the CPU, where the GGUF load it is compared with runs."""
    return Engine.load(directory, system_prompt=PROBE_SYSTEM, context_tokens=4096, device="cpu")


def probe(model, tokenizer) -> tuple[list[int], torch.Tensor]:
    """The probe chat's tokens as the bot renders it (chat template), and the model's logits."""
    try:
        prompt = build_prompt(tokenizer, system_prompt=PROBE_SYSTEM, messages=PROBE, budget=4096)
    except ValueError as exc:  # no chat template: the bot could not prompt it
        raise UnsupportedModel(f"its tokenizer cannot render a chat: {exc}") from exc
    with torch.inference_mode():
        return prompt.token_ids, model(torch.tensor([prompt.token_ids])).logits


def count_parameters(model) -> int:
    return sum(parameter.numel() for parameter in model.parameters())  # tied ones once
