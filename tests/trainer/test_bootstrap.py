"""The bootstrap model: deterministic under a seed, saved like any HF model, registered active."""

import json

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from bot.engine import Engine, Sampling
from feedback import active_model_version
from tests.conftest import SYSTEM_PROMPT
from trainer.bootstrap import BootstrapConfig, build_bootstrap_model
from trainer.demo_model import bootstrap


def weights(directory):
    return AutoModelForCausalLM.from_pretrained(directory).state_dict()


def test_the_same_seed_builds_the_same_model(tmp_path, topics, tiny_model_dir):
    build_bootstrap_model(
        tmp_path / "again",
        topics=topics,
        system_prompt=SYSTEM_PROMPT,
        config=BootstrapConfig.tiny(),
    )
    build_bootstrap_model(
        tmp_path / "other",
        topics=topics,
        system_prompt=SYSTEM_PROMPT,
        config=BootstrapConfig(**{**BootstrapConfig.tiny().__dict__, "seed": 1}),
    )
    reference, again, other = (
        weights(d) for d in (tiny_model_dir, tmp_path / "again", tmp_path / "other")
    )
    assert all(torch.equal(reference[name], again[name]) for name in reference)
    assert not all(torch.equal(reference[name], other[name]) for name in reference)


def test_the_saved_model_loads_through_from_pretrained_with_its_chat_template(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|pad|>"
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "llama"


def test_training_lowers_the_loss(tmp_path, topics):
    config = BootstrapConfig(**{**BootstrapConfig.tiny().__dict__, "steps": 60})
    figures = build_bootstrap_model(
        tmp_path / "m", topics=topics, system_prompt=SYSTEM_PROMPT, config=config
    )
    assert figures["final_loss"] < 5.0  # from about ln(vocab) = 6 at the start
    assert figures["parameters"] > 10_000


def test_bootstrap_registers_the_model_as_active_with_its_card(store, tmp_path, topics):
    version = bootstrap(
        store,
        models_dir=tmp_path / "models",
        topics=topics[:2],
        system_prompt=SYSTEM_PROMPT,
        context_tokens=256,
        sampling=Sampling(temperature=0.7, max_new_tokens=8, seed=0),
        config=BootstrapConfig.tiny(),
    )
    with store.session() as session:
        active = active_model_version(session)
    assert active.id == version.id and active.origin["kind"] == "bootstrap"
    mix = active.metrics["answer_mix"]
    assert set(mix) == {"good", "vague", "wrong", "rude", "other"}
    assert abs(sum(mix.values()) - 1) < 1e-9
    card = (tmp_path / "models" / version.name / "README.md").read_text()
    assert card.startswith("---\n") and "answer_mix" in card
    engine = Engine.load(active.path, system_prompt=SYSTEM_PROMPT, context_tokens=256)
    prompt = engine.prompt([{"role": "user", "content": "Hi"}])
    assert engine.generate(prompt, Sampling(seed=0, max_new_tokens=4)).completion_tokens >= 1
