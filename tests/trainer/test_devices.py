"""Training runs on the GPU when there is one, unless a launcher chose the CPU."""

import pytest
import torch

from trainer.devices import trains_on_cpu
from trainer.dpo import TrainingPlan, dpo_config


@pytest.mark.parametrize(
    ("gpu", "launcher_says", "on_cpu"),
    [(False, None, True), (True, None, False), (True, "true", True), (True, "false", False)],
)
def test_the_machine_and_the_launcher_decide_where_training_runs(
    monkeypatch, gpu, launcher_says, on_cpu
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    if launcher_says is None:
        monkeypatch.delenv("ACCELERATE_USE_CPU", raising=False)
    else:
        monkeypatch.setenv("ACCELERATE_USE_CPU", launcher_says)
    assert trains_on_cpu() is on_cpu


def test_accelerate_launch_cpu_on_a_gpu_machine_trains_in_float32_on_the_cpu(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("ACCELERATE_USE_CPU", "true")  # what `accelerate launch --cpu` sets
    config = dpo_config(TrainingPlan(), tmp_path, evaluate=False)
    assert config.use_cpu and not config.bf16
