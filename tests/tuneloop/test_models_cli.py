"""`tuneloop models merge`: a LoRA version becomes a full checkpoint, registered beside it."""

import pytest
import torch

from bot.engine import Engine
from feedback import register_model_version
from feedback.models import ModelStatus, ModelVersion
from tests.conftest import SYSTEM_PROMPT
from tests.tuneloop.test_cli import store_serving, tuneloop
from trainer.domain_sft import SftPlan, sft_rows, train_domain_sft


@pytest.mark.slow
def test_merge_registers_a_full_checkpoint_that_answers_as_the_adapter_did(
    tmp_path, tiny_model_dir, topics
):
    data = tmp_path / "var"
    store, [base] = store_serving(data, tiny_model_dir, "tiny")
    plan = SftPlan(num_train_epochs=1, batch_size=4, lora_rank=4, learning_rate=5e-3)
    train, held_out = sft_rows(topics[:2], [], system_prompt=SYSTEM_PROMPT, plan=plan)
    adapter = data / "models" / "tiny-sft"
    train_domain_sft(
        base_path=tiny_model_dir,
        output_dir=adapter,
        train_rows=train,
        held_out_rows=held_out,
        plan=plan,
        quiet=True,
    )
    with store.session() as session:
        lora = register_model_version(
            session, name="tiny-sft", path=str(tiny_model_dir), adapter_path=str(adapter)
        )
    env = {"TUNELOOP_DATA_DIR": str(data)}

    result = tuneloop("models", "merge", str(lora.id), cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    with store.session() as session:
        merged = session.get(ModelVersion, lora.id + 1)
    assert merged.name == "tiny-sft-merged" and merged.parent_id == lora.id
    assert merged.adapter_path is None and merged.status == ModelStatus.candidate
    assert merged.origin["kind"] == "merge"
    served = {"system_prompt": SYSTEM_PROMPT, "context_tokens": 256}
    ids = torch.tensor(
        [
            Engine.load(tiny_model_dir, **served)
            .prompt([{"role": "user", "content": "Hi"}])
            .token_ids
        ]
    )
    with torch.no_grad():
        expected = Engine.load_version(lora, **served).model(ids).logits
        actual = Engine.load_version(merged, **served).model(ids).logits
    assert torch.allclose(expected, actual, atol=1e-4)

    again = tuneloop("models", "merge", str(lora.id), cwd=tmp_path, env=env)
    assert again.returncode == 2 and "exists already" in again.stderr
    full = tuneloop("models", "merge", str(base.id), cwd=tmp_path, env=env)
    assert full.returncode == 2 and "no adapter to merge" in full.stderr
