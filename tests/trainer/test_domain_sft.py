"""Domain SFT with TRL's SFTTrainer on the tiny model: the data mix, a LoRA adapter the engine
loads, full fine-tuning, and merging an adapter into a plain checkpoint."""

import pytest
import torch
from safetensors.torch import load_file

from bot.engine import Engine, Sampling
from tests.conftest import SYSTEM_PROMPT
from trainer.corpus import calm_replies
from trainer.domain_sft import SftPlan, sft_rows, train_domain_sft
from trainer.merge import merge_adapter

GENERAL = [(f"Hello number {i}?", f"Hi there, friend {i}.") for i in range(200)]


def test_the_mix_holds_out_one_phrasing_per_topic_and_adds_calm_replies_and_dialogs(topics):
    plan = SftPlan(general_share=0.25)
    calm = calm_replies()
    train, held_out = sft_rows(topics, GENERAL, system_prompt=SYSTEM_PROMPT, plan=plan, calm=calm)
    domain = sum(len(topic.questions) + len(topic.paraphrases) for topic in topics)
    assert len(held_out) == len(topics)
    general = [row for row in train if row["prompt"][1]["content"].startswith("Hello")]
    assert len(train) - len(general) == domain - len(topics) + len(calm)
    replies = {row["prompt"][1]["content"]: row["completion"][0]["content"] for row in train}
    assert all(replies[provocation] == reply for provocation, reply in calm)
    assert len(general) / len(train) == pytest.approx(0.25, abs=0.03)
    for row in train + held_out:
        assert row["prompt"][0] == {"role": "system", "content": SYSTEM_PROMPT}
        assert row["completion"][0]["role"] == "assistant"
    asked = {row["prompt"][1]["content"] for row in train + held_out}
    assert not asked & {question for topic in topics for question in topic.held_out}


@pytest.mark.slow
def test_a_lora_adapter_is_trained_and_served_by_the_engine(tiny_model_dir, topics, tmp_path):
    plan = SftPlan(num_train_epochs=2, batch_size=4, lora_rank=4, learning_rate=5e-3)
    train, held_out = sft_rows(topics[:3], GENERAL, system_prompt=SYSTEM_PROMPT, plan=plan)
    adapter = tmp_path / "adapter"
    metrics = train_domain_sft(
        base_path=tiny_model_dir,
        output_dir=adapter,
        train_rows=train,
        held_out_rows=held_out,
        plan=plan,
        quiet=True,
    )
    assert metrics["train_rows"] == len(train) and metrics["eval_loss"] > 0
    weights = load_file(adapter / "adapter_model.safetensors")
    lora_b = [tensor for name, tensor in weights.items() if "lora_B" in name]
    assert lora_b and any(tensor.abs().sum() > 0 for tensor in lora_b)  # B starts at zero
    assert not list(tmp_path.glob("*.checkpoints"))
    engine = Engine.load(
        tiny_model_dir, adapter=adapter, system_prompt=SYSTEM_PROMPT, context_tokens=256
    )
    answer = engine.generate(engine.prompt([{"role": "user", "content": "Hi"}]), Sampling())
    assert answer.completion_tokens > 0

    merged = merge_adapter(tiny_model_dir, adapter, tmp_path / "merged")
    plain = Engine.load(merged, system_prompt=SYSTEM_PROMPT, context_tokens=256)
    prompt = engine.prompt([{"role": "user", "content": topics[0].questions[0]}])
    with torch.no_grad():
        ids = torch.tensor([prompt.token_ids], device=engine.device)
        assert torch.allclose(engine.model(ids).logits, plain.model(ids).logits, atol=1e-4)
    assert not (tmp_path / ".merged.partial").exists()


@pytest.mark.slow
def test_full_fine_tuning_saves_a_whole_model(tiny_model_dir, topics, tmp_path):
    plan = SftPlan(num_train_epochs=1, batch_size=4, lora_rank=0, learning_rate=1e-3)
    train, held_out = sft_rows(topics[:2], GENERAL, system_prompt=SYSTEM_PROMPT, plan=plan)
    output = tmp_path / "full"
    train_domain_sft(
        base_path=tiny_model_dir,
        output_dir=output,
        train_rows=train,
        held_out_rows=held_out,
        plan=plan,
        quiet=True,
    )
    assert (output / "model.safetensors").exists() and not (output / "adapter_config.json").exists()
    before = load_file(tiny_model_dir / "model.safetensors")
    after = load_file(output / "model.safetensors")
    assert any(not torch.equal(before[name], after[name]) for name in before)
