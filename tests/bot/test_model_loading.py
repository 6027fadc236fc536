"""Models load as tuneloop serves and trains them: float32, transformers' own layers, and on a
CUDA GPU when there is one (run on a GPU machine, these tests check that path for real)."""

import pytest
import torch

from bot.engine import Engine, Sampling, load_causal_lm, serving_device
from trainer.evaluation import answer_logprob

GREEDY = Sampling(temperature=0.0, max_new_tokens=8)


def test_a_model_loads_in_float32_without_kernels_from_the_hub(tiny_model_dir):
    model = load_causal_lm(tiny_model_dir)
    assert model.dtype == torch.float32
    assert not model.use_kernels  # transformers' default is on: offline on a GPU, training failed


@pytest.mark.parametrize(("gpu", "device"), [(False, "cpu"), (True, "cuda")])
def test_the_bot_answers_on_a_gpu_when_there_is_one(monkeypatch, gpu, device):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert serving_device() == torch.device(device)


def test_an_engine_answers_and_scores_answers_on_its_model_s_device(tiny_model_dir):
    engine = Engine.load(tiny_model_dir, system_prompt="Be brief.", context_tokens=128)
    assert engine.device.type == serving_device().type
    assert {parameter.device for parameter in engine.model.parameters()} == {engine.device}
    prompts = [engine.prompt([{"role": "user", "content": q}]) for q in ("Hi?", "Returns?")]
    alone = engine.generate(prompts[0], GREEDY)
    together = engine.generate_batch(prompts, GREEDY)
    assert alone.completion_tokens > 0 and all(g.completion_tokens > 0 for g in together)
    logprob, tokens = answer_logprob(engine, [{"role": "user", "content": "Hi?"}], alone.text)
    assert logprob < 0 and tokens > 0
