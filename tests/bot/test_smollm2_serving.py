"""The real pretrained model in service: SmolLM2 streams a chat answer through the API to the
openai client, and a one-step LoRA DPO on 4 pairs makes a new adapter that the running bot
swaps in without a restart and without loading the base again."""

import json

import pytest
import torch
from openai import OpenAI
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from bot.server import BackgroundServer
from feedback import Store, activate, make_engine, register_model_version
from feedback.migrate import upgrade
from tests.conftest import PSEUDONYM_KEY
from tests.live_bot import bot_settings
from trainer.dpo import TrainingPlan, train_dpo
from tuneloop.serving import build_bot

PAIRS = [
    ("How long do I have to return an item?", "Within 30 days of delivery.", "Go away."),
    ("Do you ship abroad?", "Yes, to all of Europe in 3-5 days.", "Figure it out yourself."),
    ("When are you open?", "Monday to Saturday, 9 to 18.", "Whenever we feel like it."),
    ("Can I pay by invoice?", "Yes, invoices are due in 14 days.", "No idea, stop asking."),
]


def lora_b(adapter) -> dict[str, torch.Tensor]:
    weights = load_file(adapter / "adapter_model.safetensors")
    return {name: tensor for name, tensor in weights.items() if "lora_B" in name}


@pytest.fixture(scope="module")
def first_adapter(smollm2, tmp_path_factory):
    """A fresh LoRA adapter of the imported model (B = 0: it answers as the base does)."""
    model = AutoModelForCausalLM.from_pretrained(smollm2.model.path)
    config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")
    path = tmp_path_factory.mktemp("adapter-1")
    get_peft_model(model, config).save_pretrained(path)
    return path


@pytest.mark.slow
def test_smollm2_streams_then_swaps_in_a_dpo_adapter(smollm2, first_adapter, tmp_path):
    store = Store(make_engine(f"sqlite:///{tmp_path / 'bot.db'}"), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine)
    base = str(smollm2.model.path)
    with store.session() as session:
        first = register_model_version(
            session, name="smollm2-lora-1", path=base, adapter_path=str(first_adapter)
        )
        activate(session, first.id)
    settings = bot_settings(context_tokens=1024, max_new_tokens=16)
    app, slot, logger = build_bot(settings, store)
    try:
        with BackgroundServer(app) as server:
            client = OpenAI(base_url=f"{server.url}/v1", api_key="unused")
            stream = client.chat.completions.create(
                model="tuneloop",
                messages=[{"role": "user", "content": "Hello! Who are you?"}],
                stream=True,
                temperature=0,
            )
            pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
            assert len([piece for piece in pieces if piece]) > 1  # streamed, not one block
            assert "".join(pieces).strip()

            pairs = tmp_path / "pairs.jsonl"
            pairs.write_text(
                "".join(
                    json.dumps(
                        {
                            "prompt": [{"role": "user", "content": question}],
                            "chosen": [{"role": "assistant", "content": good}],
                            "rejected": [{"role": "assistant", "content": bad}],
                        }
                    )
                    + "\n"
                    for question, good, bad in PAIRS
                )
            )
            second_adapter = tmp_path / "adapter-2"
            plan = TrainingPlan(
                learning_rate=1e-3, batch_size=4, num_train_epochs=1, overrides={"max_steps": 1}
            )
            train_dpo(
                base_path=base,
                base_adapter=str(first_adapter),
                train_path=pairs,
                eval_path=None,
                output_dir=second_adapter,
                plan=plan,
                system_prompt=settings.bot.system_prompt,
                context_tokens=1024,
                quiet=True,
            )
            before, after = lora_b(first_adapter), lora_b(second_adapter)
            assert before.keys() == after.keys()
            assert any(not torch.equal(before[name], after[name]) for name in before)

            served_before = slot.engine
            with store.session() as session:
                second = register_model_version(
                    session,
                    name="smollm2-lora-2",
                    path=base,
                    adapter_path=str(second_adapter),
                    parent_id=first.id,
                )
                activate(session, second.id)
            assert slot.refresh()
            assert slot.engine.version_id == second.id
            assert slot.engine.model is served_before.model  # the base was not loaded again
            answer = client.chat.completions.create(
                model="tuneloop",
                messages=[{"role": "user", "content": PAIRS[0][0]}],
                temperature=0,
            )
            assert answer.model_extra["tuneloop"]["model_version_id"] == second.id
            assert answer.choices[0].message.content.strip()
    finally:
        logger.close()
        store.dispose()
