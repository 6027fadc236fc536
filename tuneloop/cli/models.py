"""`tuneloop models import`: a pretrained model (a packaged base, a GGUF file or a Hugging Face
directory) into the data directory's model cache, registered as a model version."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bot.packaged_bases import BASES
from feedback.migrate import upgrade
from feedback.models import ModelStatus
from tuneloop.cli import console, fail, load_settings
from tuneloop.cli.training import models_app
from tuneloop.store import open_store


@models_app.command("import")
def models_import(
    base: Annotated[
        str | None,
        typer.Option(help=f"A base model whose package ships it: {', '.join(BASES)}."),
    ] = None,
    gguf: Annotated[
        Path | None, typer.Option("--gguf", help="A GGUF file, dequantized once to float32.")
    ] = None,
    source: Annotated[
        Path | None, typer.Option("--from", help="A Hugging Face causal LM directory, copied.")
    ] = None,
    make_active: Annotated[
        bool | None,
        typer.Option(
            "--activate/--no-activate",
            help="Put it in service. Default: only when no model is active yet; otherwise it "
            "is registered as a candidate for `tuneloop models promote`.",
        ),
    ] = None,
) -> None:
    """Import a pretrained model into the model cache (once per file content) and register it."""
    from bot.import_errors import (
        BaseNotInstalled,
        CorruptGGUF,
        ImportCheckFailed,
        UnknownBase,
        UnsupportedModel,
    )
    from bot.model_import import import_base, import_directory, import_gguf, register_import

    if sum(option is not None for option in (base, gguf, source)) != 1:
        fail("Give one of --base NAME, --gguf FILE or --from DIR.")
    settings = load_settings()
    store = open_store(settings)
    upgrade(store.engine)
    cache_dir = settings.model_cache_dir

    def show(step: str) -> None:
        console.print(f"[dim]{step}...[/dim]")

    try:
        if base is not None:
            imported = import_base(base, cache_dir=cache_dir, on_step=show)
        elif gguf is not None:
            imported = import_gguf(gguf, cache_dir=cache_dir, on_step=show)
        else:
            imported = import_directory(source, cache_dir=cache_dir, on_step=show)
    except (
        FileNotFoundError,
        UnknownBase,
        BaseNotInstalled,
        CorruptGGUF,
        UnsupportedModel,
        ImportCheckFailed,
    ) as exc:
        fail(exc)
    with store.session() as session:
        version, added = register_import(session, imported, make_active=make_active)

    made = "in the cache already" if imported.cached else "made"
    console.print(f"imported  {imported.name} ({made}: {imported.path})")
    table = Table("origin", "value")
    for key, value in imported.origin.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
    console.print(
        "seconds   " + ", ".join(f"{step} {s:.1f}" for step, s in imported.seconds.items())
    )
    registered = "registered as" if added else "already registered as"
    console.print(f"version   {version.id}, {registered} {version.name}: {version.status.value}")
    if version.status != ModelStatus.active:
        console.print(f"          `tuneloop models promote {version.id}` puts it in service")


@models_app.command("merge")
def models_merge(
    version_id: Annotated[int, typer.Argument(help="A version served as a LoRA adapter.")],
) -> None:
    """Merge a version's LoRA adapter into its base: a full checkpoint that loads without peft,
    registered as a new candidate version (the adapter version stays as it is)."""
    from feedback import register_model_version
    from feedback.models import ModelVersion
    from trainer.merge import merge_adapter

    settings = load_settings()
    store = open_store(settings)
    with store.session() as session:
        version = session.get(ModelVersion, version_id)
    if version is None:
        fail(f"no model version {version_id}: `tuneloop models list` shows them")
    if version.adapter_path is None:
        fail(f"{version.name} is a full model already: there is no adapter to merge")
    name = f"{version.name}-merged"
    output = settings.models_dir / name
    if output.exists():
        fail(f"{output} exists already: it is the merge of {version.name}")
    console.print(f"merging {version.adapter_path} into {version.path}...")
    merge_adapter(version.path, version.adapter_path, output)
    with store.session() as session:
        merged = register_model_version(
            session,
            name=name,
            path=str(output.resolve()),
            parent_id=version.id,
            origin={"kind": "merge", "from": version.name, "adapter": version.adapter_path},
            metrics=version.metrics,
        )
    console.print(f"version   {merged.id}, registered as {merged.name}: {merged.status.value}")
    console.print(f"          `tuneloop models promote {merged.id}` puts it in service")
