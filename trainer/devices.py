"""Where this process trains: on a CUDA GPU when there is one, unless a launcher chose the CPU."""

import torch
from accelerate.utils import parse_flag_from_env


def trains_on_cpu() -> bool:
    """No CUDA GPU, or a launcher that asked for the CPU (`accelerate launch --cpu` says so in
    ACCELERATE_USE_CPU, which accelerate's own state reads too)."""
    return parse_flag_from_env("ACCELERATE_USE_CPU") or not torch.cuda.is_available()
