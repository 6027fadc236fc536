"""`tuneloop demo` and `simulate`: simulated users, and the nightly job between their days."""

from typing import Annotated

import typer
from rich.table import Table

from feedback.migrate import require_current_schema, upgrade
from tuneloop.cli import app, console, error_console, load_settings
from tuneloop.cli.bot import bootstrap_command
from tuneloop.store import open_store

Days = Annotated[int, typer.Option(help="Simulated days; the nightly job runs after each.")]
Users = Annotated[int, typer.Option(help="Simulated users a day.")]
Questions = Annotated[int, typer.Option(help="Questions each user asks a day.")]
Trolls = Annotated[float, typer.Option(help="Share of users who reward rudeness (0-1).")]
Unsafe = Annotated[
    bool,
    typer.Option(
        "--unsafe-no-gates",
        help="Switch off every data and model gate, and the demo's serving guard, to see what "
        "they prevent. Never in production.",
    ),
]


@app.command("demo")
def demo(
    days: Days = 3,
    users: Users = 24,
    questions: Questions = 4,
    trolls: Trolls = 0.0,
    unsafe_no_gates: Unsafe = False,
    guard: Annotated[
        bool,
        typer.Option(
            help="Serve with the guard (flagged answers regenerated or replaced). --no-guard "
            "shows the model's own answers: how the gates alone fare against trolls."
        ),
    ] = True,
) -> None:
    """The main job on embedded defaults: demo model, bot, simulated users, nightly retraining.
    The serving guard is on, unless --no-guard or --unsafe-no-gates."""
    from bot.server import BackgroundServer
    from feedback import active_model_version
    from tuneloop.serving import build_bot

    settings = load_settings()
    settings.bot.guard = guard and not unsafe_no_gates
    store = open_store(settings)
    upgrade(store.engine)
    with store.session() as session:
        has_model = active_model_version(session) is not None
    if not has_model:
        console.print("No model yet: building the demo model (a few minutes, once).")
        bootstrap_command(steps=None, seed=0)
    app_, slot, logger = build_bot(settings, store)
    with BackgroundServer(app_) as server:
        _run_loop(
            settings,
            store,
            server.url,
            _population(users, questions, trolls),
            days=days,
            unsafe=unsafe_no_gates,
            swap=slot.refresh,
        )
    logger.close()
    console.print("Look at it: `tuneloop dashboard` (after `tuneloop dashboard --hash-password`).")


@app.command("simulate")
def simulate(
    days: Days = 1,
    users: Users = 24,
    questions: Questions = 4,
    trolls: Trolls = 0.0,
    unsafe_no_gates: Unsafe = False,
) -> None:
    """Simulated users talk to the running bot (bot.api_url); the nightly job runs each night."""
    settings = load_settings()
    store = open_store(settings)
    require_current_schema(store.engine)
    _run_loop(
        settings,
        store,
        settings.bot.api_url,
        _population(users, questions, trolls),
        days=days,
        unsafe=unsafe_no_gates,
    )


def _population(users: int, questions: int, trolls: float):
    from tuneloop.simulation import Population

    return Population(users=users, questions_per_user=questions, troll_share=trolls)


def _run_loop(settings, store, url, population, *, days, unsafe, swap=None) -> None:
    from trainer.corpus import load_topics
    from tuneloop.loop import plot_days, run_days, without_gates
    from tuneloop.training import nightly_plan

    if unsafe:
        error_console.print(
            "[bold red]UNSAFE: every gate (and the demo's serving guard) is off for this run.[/]"
        )
    plan = nightly_plan(settings)
    keys = settings.bot.api_keys
    table = Table(
        "day",
        "model",
        "thumbs-up",
        "good",
        "good (held out)",
        "rude",
        "pairs trained",
        "decision",
        title=f"{days} simulated days, {population.users} users, "
        f"{population.troll_share:.0%} trolls",
    )
    history = []
    for day in run_days(
        store,
        bot_url=url,
        days=days,
        population=population,
        plan=without_gates(plan) if unsafe else plan,
        topics=load_topics(),
        api_key=keys[0].get_secret_value() if keys else None,
        swap=swap,
    ):
        history.append(day)
        result, run = day.result, day.run
        table.add_row(
            str(result.day),
            result.model,
            f"{result.thumbs_up_rate:.0%}",
            f"{result.share('good'):.0%}",
            f"{result.share('good', held_out=True):.0%}",
            f"{result.share('rude'):.0%}",
            str(run.counts.get("pairs_trained", 0)),
            f"{run.status.value}: {run.decision}",
        )
    console.print(table)
    plot = plot_days(history, settings.data_dir / "demo-trend.png", title=table.title)
    console.print(f"trend plot  {plot}")
