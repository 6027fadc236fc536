"""Two LoRA versions in service on one base model: each engine answers with its own adapter,
whatever the order of the calls, and an adapter no engine uses any more leaves the model."""

import gc

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from bot.engine import Engine, Sampling
from feedback import Store, activate, make_engine, register_model_version, start_canary
from feedback.migrate import upgrade
from tests.conftest import PSEUDONYM_KEY, SYSTEM_PROMPT
from tuneloop.serving import build_bot
from tuneloop.settings import Settings

GREEDY = Sampling(temperature=0.0, max_new_tokens=8)
QUESTION = [{"role": "user", "content": "Where are your stores?"}]


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory):
    """Two random LoRA adapters of the tiny model (large enough to change its answers)."""
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        config = LoraConfig(
            r=4, lora_alpha=64, target_modules="all-linear", init_lora_weights=False
        )
        path = tmp_path_factory.mktemp(f"adapter-{seed}")
        get_peft_model(model, config).save_pretrained(path)
        paths.append(path)
    return paths


def load(tiny_model_dir, adapter) -> Engine:
    return Engine.load(
        tiny_model_dir, adapter=adapter, system_prompt=SYSTEM_PROMPT, context_tokens=256
    )


def answer(engine: Engine) -> str:
    return engine.generate(engine.prompt(QUESTION), GREEDY).text


def test_two_adapters_on_one_base_answer_as_if_loaded_alone(tiny_model_dir, adapters):
    alone = [answer(load(tiny_model_dir, path)) for path in adapters]
    assert alone[0] != alone[1]  # the adapters make a difference

    first = load(tiny_model_dir, adapters[0])
    second = first.beside(adapters[1], name="second", version_id=2)
    assert second.model is first.model and second.version_id == 2
    assert [answer(first), answer(second), answer(first), answer(second)] == alone * 2


def test_an_adapter_no_engine_uses_leaves_the_model(tiny_model_dir, adapters):
    first = load(tiny_model_dir, adapters[0])
    second = first.beside(adapters[1], name="second")
    name = second.adapter
    assert name in first.model.peft_config
    del second
    gc.collect()
    answer(first)  # the next turn on the model deletes it
    assert name not in first.model.peft_config and "default" in first.model.peft_config


def test_an_engine_without_an_adapter_has_no_base_to_share(tiny_engine, adapters):
    with pytest.raises(ValueError, match="no LoRA adapter"):
        tiny_engine.beside(adapters[0], name="x")


def test_the_bot_serves_a_lora_canary_on_the_active_versions_base(
    sqlite_url, tiny_model_dir, adapters
):
    store = Store(make_engine(sqlite_url), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine)
    with store.session() as session:
        active, canary = (
            register_model_version(
                session, name=f"lora-{index}", path=str(tiny_model_dir), adapter_path=str(path)
            )
            for index, path in enumerate(adapters)
        )
        activate(session, active.id)
        start_canary(session, canary.id)
    settings = Settings.model_validate(
        {"bot": {"system_prompt": SYSTEM_PROMPT, "context_tokens": 256}, "canary": {"share": 0.5}}
    )
    _, slot, logger = build_bot(settings, store)
    logger.close()
    assert slot.canary.version_id == canary.id and slot.canary.model is slot.engine.model
    assert answer(slot.canary) == answer(load(tiny_model_dir, adapters[1]))
    store.dispose()
