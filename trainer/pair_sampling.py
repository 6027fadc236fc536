"""Pair weights in training: each epoch draws a pair in proportion to its weight.

A pair's weight is how strongly its raters preferred the chosen answer (the trust-weighted score
gap; 1 for a correction). TRL's DPO loss has no per-pair weight, so the weight acts through the
sampler instead: in expectation an epoch's gradient is the weighted one. Systematic resampling
keeps the draw close to that expectation: over an epoch of n draws a pair of relative weight
n * w / sum(w) is drawn its floor or its ceiling times, so equal weights draw every pair exactly
once (the plain shuffled epoch) and a pair of full weight is never left out by chance.
"""

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler
from trl import DPOTrainer

from feedback.snapshots import WEIGHT_COLUMN


class PairWeightSampler(Sampler[int]):
    """Indices for one epoch: as many as there are pairs, each pair's count following its weight,
    in a shuffled order; a new draw every epoch."""

    def __init__(self, weights: Sequence[float], *, seed: int = 0) -> None:
        self.weights = torch.tensor(weights, dtype=torch.float64)
        if len(self.weights) and (self.weights.lt(0).any() or self.weights.sum() <= 0):
            raise ValueError("pair weights must be >= 0 with at least one above 0")
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.weights)

    def __iter__(self) -> Iterator[int]:
        count = len(self.weights)
        if count == 0:
            return iter(())
        edges = torch.cumsum(self.weights, 0) / self.weights.sum() * count
        positions = torch.rand(1, generator=self.generator, dtype=torch.float64) + torch.arange(
            count, dtype=torch.float64
        )
        picks = torch.searchsorted(edges, positions, right=True).clamp(max=count - 1)
        order = torch.randperm(count, generator=self.generator)
        return iter(picks[order].tolist())


class WeightedPairsDPOTrainer(DPOTrainer):
    """TRL's DPOTrainer, drawing the training pairs by their `weight` (`PairWeightSampler`)."""

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()  # the columns the collator gets; keep ours
        if WEIGHT_COLUMN not in self._signature_columns:
            self._signature_columns.append(WEIGHT_COLUMN)

    def _get_train_sampler(self, train_dataset=None) -> Sampler[int]:
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        return PairWeightSampler(dataset[WEIGHT_COLUMN], seed=self.args.seed)
