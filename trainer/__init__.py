"""Training: the bootstrap model, data and model gates, DPO, evaluation, the nightly pipeline."""
