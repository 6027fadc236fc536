"""`bootstrap --base` on the tiny model: an imported base, domain SFT as a LoRA adapter, the
semantic judge before and after, and the adapter registered as the active version."""

import pytest

from bot.model_import import import_directory
from feedback import active_model_version
from feedback.migrate import upgrade
from trainer.domain_sft import SftPlan
from tuneloop.domain import adapt_base
from tuneloop.settings import Settings
from tuneloop.store import open_store


@pytest.mark.slow
def test_a_base_is_adapted_measured_and_put_in_service(tmp_path, tiny_model_dir, topics):
    settings = Settings(data_dir=tmp_path)
    store = open_store(settings)
    upgrade(store.engine)
    imported = import_directory(tiny_model_dir, cache_dir=settings.model_cache_dir)
    plan = SftPlan(num_train_epochs=1, batch_size=4, lora_rank=4, learning_rate=5e-3)

    result = adapt_base(settings, store, imported, plan=plan, topics=topics[:3])

    with store.session() as session:
        active = active_model_version(session)
    assert active.id == result.version.id and active.parent_id == result.base.id
    assert active.path == str(imported.path.resolve())
    assert (tmp_path / "models" / active.name / "adapter_config.json").exists()
    assert active.adapter_path == str((tmp_path / "models" / active.name).resolve())
    assert active.origin["kind"] == "sft" and active.origin["lora_rank"] == 4
    for key in ("judged_good_before", "judged_good_after"):
        assert 0 <= active.metrics[key] <= 1
    assert active.metrics["judged_good_before"] == result.judged_good_before
    assert "# " + active.name in (tmp_path / "models" / active.name / "README.md").read_text()
