"""Merging a LoRA adapter into its base: a full checkpoint that loads without peft."""

from pathlib import Path

from peft import PeftModel
from transformers import AutoTokenizer

from bot.engine import load_causal_lm


def merge_adapter(base_path: str | Path, adapter_path: str | Path, output_dir: Path) -> Path:
    """Save base + adapter as one model (and the adapter's tokenizer) in `output_dir`.

    Written into a sibling temporary directory first and renamed at the end, so that a crash
    never leaves a directory that looks like a finished model.
    """
    model = load_causal_lm(base_path)
    merged = PeftModel.from_pretrained(model, str(adapter_path)).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(adapter_path)
    partial = output_dir.with_name(f".{output_dir.name}.partial")
    merged.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(output_dir)
    return output_dir
