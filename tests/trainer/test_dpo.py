"""DPO training on the tiny model: in this process, and through `accelerate launch`."""

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from tests.conftest import SYSTEM_PROMPT
from trainer.dpo import TrainingPlan, dpo_config, launch_dpo, reference_model


@pytest.fixture
def pair_files(tmp_path, topics):
    rows = [
        {
            "prompt": [{"role": "user", "content": question}],
            "chosen": [{"role": "assistant", "content": topic.reference}],
            "rejected": [{"role": "assistant", "content": topic.answers["rude"]}],
        }
        for topic in topics
        for question in topic.questions[:3]
    ]
    train, held_out = tmp_path / "train.jsonl", tmp_path / "heldout.jsonl"
    train.write_text("".join(json.dumps(row) + "\n" for row in rows[:-4]))
    held_out.write_text("".join(json.dumps(row) + "\n" for row in rows[-4:]))
    return train, held_out


def arguments(tiny_model_dir, pair_files, output: Path) -> dict:
    train, held_out = pair_files
    return {
        "base_path": str(tiny_model_dir),
        "train_path": train,
        "eval_path": held_out,
        "output_dir": output,
        "plan": TrainingPlan(num_train_epochs=2, learning_rate=1e-3, batch_size=4),
        "system_prompt": SYSTEM_PROMPT,
        "context_tokens": 256,
    }


def test_training_in_process_evaluates_and_saves_a_loadable_model(
    tmp_path, tiny_model_dir, pair_files
):
    output = tmp_path / "candidate"
    metrics = launch_dpo(launcher=None, **arguments(tiny_model_dir, pair_files, output))
    assert metrics["train_pairs"] == 14 and "eval_loss" in metrics
    assert 0.0 <= metrics["eval_rewards/accuracies"] <= 1.0
    assert AutoModelForCausalLM.from_pretrained(output).config.model_type == "llama"
    assert (output / "tokenizer.json").exists()
    assert not (tmp_path / "candidate.checkpoints").exists()


def test_quiet_training_prints_no_per_step_logs(tmp_path, tiny_model_dir, pair_files, capsys):
    for quiet in (False, True):
        output = tmp_path / f"quiet-{quiet}"
        launch_dpo(launcher=None, quiet=quiet, **arguments(tiny_model_dir, pair_files, output))
        printed = capsys.readouterr()
        logged = "'train_runtime'" in printed.out + printed.err
        assert logged is not quiet


@pytest.mark.slow
def test_training_through_accelerate_launch(tmp_path, tiny_model_dir, pair_files):
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    output = tmp_path / "launched"
    launcher = [
        accelerate,
        "launch",
        "--cpu",
        "--num_processes",
        "1",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]
    metrics = launch_dpo(launcher=launcher, **arguments(tiny_model_dir, pair_files, output))
    assert metrics["train_pairs"] == 14 and "eval_loss" in metrics
    assert AutoModelForCausalLM.from_pretrained(output).config.model_type == "llama"


def test_a_lora_adapter_is_trained_served_and_trained_again(tmp_path, tiny_model_dir, pair_files):
    from bot.engine import Engine, Sampling

    lora = {"plan": TrainingPlan(num_train_epochs=1, learning_rate=1e-2, batch_size=4, lora_rank=4)}
    first = tmp_path / "adapter-1"
    metrics = launch_dpo(launcher=None, **arguments(tiny_model_dir, pair_files, first) | lora)
    assert metrics["lora_rank"] == 4
    assert (first / "adapter_config.json").exists() and not (first / "config.json").exists()

    engine = Engine.load(
        tiny_model_dir, adapter=first, system_prompt=SYSTEM_PROMPT, context_tokens=256
    )
    base = Engine.load(tiny_model_dir, system_prompt=SYSTEM_PROMPT, context_tokens=256)
    prompt = engine.prompt([{"role": "user", "content": "Where are your stores?"}])
    assert type(engine.model).__name__ == "PeftModelForCausalLM"
    with torch.inference_mode():  # the adapter changes what the model computes
        ids = torch.tensor([prompt.token_ids], device=engine.device)
        assert not torch.allclose(engine.model(ids).logits, base.model(ids).logits)
    assert engine.generate(prompt, Sampling(seed=0, max_new_tokens=4)).completion_tokens >= 1

    second = tmp_path / "adapter-2"
    launch_dpo(
        launcher=None,
        base_adapter=str(first),
        **arguments(tiny_model_dir, pair_files, second) | lora,
    )
    assert (second / "adapter_config.json").exists()


def test_a_whole_models_reference_is_a_frozen_copy_of_it_as_training_starts(
    tmp_path, tiny_model_dir
):
    from peft import LoraConfig, get_peft_model

    from bot.engine import load_causal_lm

    model = load_causal_lm(tiny_model_dir)
    config = dpo_config(TrainingPlan(), tmp_path, evaluate=False)
    reference = reference_model(model, None, config)
    assert reference is not model and not reference.training
    assert not any(parameter.requires_grad for parameter in reference.parameters())
    with torch.no_grad():
        model.lm_head.weight.add_(1.0)  # training moves the policy, not its reference
    assert not torch.equal(reference.lm_head.weight, model.lm_head.weight)

    lora = LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM")
    assert reference_model(model, lora, config) is None  # the adapter switched off
    assert reference_model(get_peft_model(model, lora), None, config) is None
    precomputed = dpo_config(
        TrainingPlan(overrides={"precompute_ref_log_probs": True}), tmp_path, evaluate=False
    )
    assert reference_model(model, None, precomputed) is None  # the policy's log-probs at step 0
