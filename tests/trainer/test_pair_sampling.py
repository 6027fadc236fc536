"""Pair weights in DPO training: the sampler's draws, and TRL's trainer using it."""

import json
from collections import Counter

import pytest
from transformers import AutoTokenizer

from tests.conftest import SYSTEM_PROMPT
from trainer.dpo import TrainingPlan, dpo_config, load_pairs
from trainer.pair_sampling import PairWeightSampler, WeightedPairsDPOTrainer


def test_equal_weights_draw_every_pair_once_in_a_new_order_each_epoch():
    sampler = PairWeightSampler([0.7] * 50, seed=1)
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second


def test_draws_follow_the_weights_and_a_weightless_pair_is_never_drawn():
    weights = [1.0, 0.5, 0.25, 0.0, 1.0, 0.25]
    sampler = PairWeightSampler(weights, seed=0)
    expected = [len(weights) * w / sum(weights) for w in weights]  # 1.6, 0.8, 0.4, 0, 1.6, 0.4
    total = Counter()
    for _ in range(400):
        epoch = Counter(sampler)
        assert sum(epoch.values()) == len(weights)
        for pair, mean in enumerate(expected):  # the floor or the ceiling, never further off
            assert int(mean) <= epoch[pair] <= int(mean) + 1
        total += epoch
    assert total[3] == 0
    for pair, mean in enumerate(expected):
        assert total[pair] / 400 == pytest.approx(mean, abs=0.08)


@pytest.mark.parametrize("weights", [[1.0, -0.5], [0.0, 0.0]])
def test_weights_that_cannot_be_drawn_from_are_refused(weights):
    with pytest.raises(ValueError, match="pair weights"):
        PairWeightSampler(weights)


def test_the_trainer_draws_the_snapshot_pairs_by_their_weight(tmp_path, tiny_model_dir, topics):
    rows = [
        {
            "prompt": [{"role": "user", "content": topic.questions[0]}],
            "chosen": [{"role": "assistant", "content": topic.reference}],
            "rejected": [{"role": "assistant", "content": topic.answers["rude"]}],
            "weight": weight,
        }
        for topic, weight in zip(topics, [1.0, 1.0, 0.0, 1.0], strict=False)
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    pairs = load_pairs(path, tokenizer=tokenizer, system_prompt=SYSTEM_PROMPT, context_tokens=256)
    trainer = WeightedPairsDPOTrainer(
        model=str(tiny_model_dir),
        args=dpo_config(TrainingPlan(batch_size=2), tmp_path / "out", evaluate=False),
        train_dataset=pairs,
        processing_class=tokenizer,
    )
    asked = Counter()
    for _ in range(3):  # epochs
        for batch in trainer.get_train_dataloader():
            texts = tokenizer.batch_decode(batch["input_ids"])
            for row in rows:
                asked[row["prompt"][0]["content"]] += sum(
                    row["prompt"][0]["content"] in text for text in texts
                )
    # each drawn pair is two sequences (chosen and rejected), each epoch draws 4 pairs
    assert asked[rows[2]["prompt"][0]["content"]] == 0
    assert sum(asked.values()) == 3 * 4 * 2
    assert all(asked[row["prompt"][0]["content"]] > 0 for row in rows if row["weight"])
