"""Models load as tuneloop serves and trains them: float32, and transformers' own layers."""

import torch

from bot.engine import load_causal_lm


def test_a_model_loads_in_float32_without_kernels_from_the_hub(tiny_model_dir):
    model = load_causal_lm(tiny_model_dir)
    assert model.dtype == torch.float32
    assert not model.use_kernels  # transformers' default is on: offline on a GPU, training failed
