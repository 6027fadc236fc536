"""`tuneloop demo` and `simulate`: simulated users, and the nightly job between their days."""

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from feedback.migrate import require_current_schema, upgrade
from tuneloop.cli import app, console, error_console, fail, load_settings
from tuneloop.cli.bot import bootstrap_command
from tuneloop.settings import Settings
from tuneloop.store import open_store

if TYPE_CHECKING:  # imported where used: the CLI starts without torch
    from tuneloop.simulation import Population

Days = Annotated[int, typer.Option(help="Simulated days; the nightly job runs between them.")]
Users = Annotated[int, typer.Option(help="Simulated users a day.")]
Questions = Annotated[int, typer.Option(help="Questions each user asks a day.")]
Trolls = Annotated[float, typer.Option(help="Share of users who reward rudeness (0-1).")]
TrollActivity = Annotated[
    int,
    typer.Option(
        min=1,
        help="Questions a troll asks for each one a customer asks: Tay's attackers were its "
        "most active users.",
    ),
]
TROLL_ACTIVITY = 3
Probes = Annotated[
    float,
    typer.Option(
        min=0,
        max=1,
        help="Share of users who withhold consent and ask phrasings nobody else asks: the "
        "'good (never trained)' column (0-1).",
    ),
]
PROBES = 0.2
Provocations = Annotated[
    float,
    typer.Option(
        min=0,
        max=1,
        help="Share of a customer's questions that vent or provoke instead "
        "(trainer/corpus/provocations.yaml; none in the model gates' red team) (0-1).",
    ),
]
# A tenth: the guard's verdicts on what it withheld from them, and their thumbs on polite
# answers, teach the answer to a provocation each night; without them nothing in the nightly
# data spoke to one, and the red-team gate rejected night 1 in three of five demo runs.
PROVOCATIONS = 0.1
Concurrency = Annotated[
    int,
    typer.Option(
        min=1,
        help="Users talking to the bot at the same time (the bot batches their answers: "
        "bot.max_batch).",
    ),
]
InjectBad = Annotated[
    bool,
    typer.Option(
        "--inject-bad-candidate",
        help="On the second night, train a deliberately worse model (chosen and rejected "
        "swapped) and let it through the model gates: the canary has to catch it live.",
    ),
]
# 720 questions a day: 100-240 pairs a night (72 users made 47-110, and the loop learned less),
# a day's rate within a few %, and a canary decides within a day.
DEMO_USERS = 144
# A pretrained model answers at about 12 tokens/s on 2 cores: fewer users, shorter answers,
# and a learning rate for LoRA adapters (the demo model's full fine-tuning wants less).
BASE_USERS = 36
DemoUsers = Annotated[
    int | None,
    typer.Option(
        help=f"Simulated users a day (default: {DEMO_USERS}; {BASE_USERS} with --base).",
        show_default=False,
    ),
]
BASE_QUESTIONS = 3
DEMO_QUESTIONS = 5
# Users talking at once, and the bot's batch to match: a pass over 32 answers of the demo model
# costs little more than one; a day of 720 questions took 2.4 min at 32 against 3.6 at 8 (1.5
# with the encoder's cache, docs/loop.md).
DEMO_CONCURRENCY = 32
BASE_CONCURRENCY = 8
DemoConcurrency = Annotated[
    int | None,
    typer.Option(
        min=1,
        help=f"Users talking to the bot at the same time (default: {DEMO_CONCURRENCY}; "
        f"{BASE_CONCURRENCY} with --base); the demo's bot batches as many answers "
        "(unless bot.max_batch is set).",
        show_default=False,
    ),
]
BASE_ANSWER_TOKENS = 48
BASE_DPO_LR = 2e-4
# The demo's traffic is a few hundred rated answers a day: a canary gets half of it, and
# decides after fewer rated answers and with a wider margin than a deployment would.
DEMO_CANARY = {"share": 0.5, "min_rated": 40, "margin": 0.15, "check_every": 10}
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
    days: Annotated[
        int,
        typer.Option(
            help="Simulated days; the nightly job runs between them, so day 4 meets the "
            "third night's model."
        ),
    ] = 4,
    users: DemoUsers = None,
    questions: Annotated[
        int | None,
        typer.Option(
            help="Questions each user asks a day (default: 5; 3 with --base).", show_default=False
        ),
    ] = None,
    trolls: Trolls = 0.0,
    troll_activity: TrollActivity = TROLL_ACTIVITY,
    probes: Probes = PROBES,
    provocations: Provocations = PROVOCATIONS,
    unsafe_no_gates: Unsafe = False,
    guard: Annotated[
        bool,
        typer.Option(
            help="Serve with the guard (flagged answers regenerated or replaced). --no-guard "
            "shows the model's own answers: how the gates alone fare against trolls."
        ),
    ] = True,
    inject_bad_candidate: InjectBad = False,
    concurrency: DemoConcurrency = None,
    base: Annotated[
        str | None,
        typer.Option(
            help="Run the loop on a pretrained chat model instead of the demo model "
            "(smollm2-135m-instruct): adapted to the shop first unless an adapter of a "
            f"pretrained base is in service already; {BASE_USERS} users a day by default.",
        ),
    ] = None,
) -> None:
    """The main job on embedded defaults: demo model, bot, simulated users, nightly retraining.
    The serving guard is on, unless --no-guard or --unsafe-no-gates; with
    --inject-bad-candidate, candidates are tried as canaries on half of the conversations."""
    from bot.engine import NoSuchDevice, checked_device
    from bot.server import BackgroundServer
    from feedback import active_model_version
    from tuneloop.serving import build_bot

    if inject_bad_candidate and days < 3:
        fail("--inject-bad-candidate needs --days 3 or more: it injects on the second night.")
    default_users = BASE_USERS if base else DEMO_USERS
    users = users or default_users
    questions = questions or (BASE_QUESTIONS if base else DEMO_QUESTIONS)
    concurrency = concurrency or (BASE_CONCURRENCY if base else DEMO_CONCURRENCY)
    settings = load_settings()
    if base is not None:
        fill_base_defaults(settings)
    match_batch_to_users(settings, concurrency)
    if settings.bot.device:  # before minutes of building a model, not after
        try:
            checked_device(settings.bot.device)
        except NoSuchDevice as exc:
            fail(exc)
    settings.bot.guard = guard and not unsafe_no_gates
    # Three nights show learning only if each night's candidate serves the next day: without
    # an injected candidate to catch, candidates are promoted at once (and watched).
    settings.canary = settings.canary.model_copy(
        update=DEMO_CANARY if inject_bad_candidate else {"share": 0.0}
    )
    store = open_store(settings)
    upgrade(store.engine)
    with store.session() as session:
        active = active_model_version(session)
    if base is not None and (active is None or active.adapter_path is None):
        console.print(f"Adapting {base} to the shop first (import, SFT: several minutes, once).")
        bootstrap_command(steps=None, seed=0, base=base)
    elif active is None:
        console.print("No model yet: building the demo model (a few minutes, once).")
        bootstrap_command(steps=None, seed=0)
    app_, slot, logger = build_bot(settings, store)
    with BackgroundServer(app_) as server:
        _run_loop(
            settings,
            store,
            server.url,
            _population(
                users, questions, trolls, troll_activity, probes, provocations, concurrency
            ),
            days=days,
            unsafe=unsafe_no_gates,
            swap=slot.refresh,
            bad_night=2 if inject_bad_candidate else None,
        )
    logger.close()
    console.print("Look at it: `tuneloop dashboard` (after `tuneloop dashboard --hash-password`).")


@app.command("simulate")
def simulate(
    days: Days = 1,
    users: Users = 24,
    questions: Questions = 4,
    trolls: Trolls = 0.0,
    troll_activity: TrollActivity = TROLL_ACTIVITY,
    probes: Probes = PROBES,
    provocations: Provocations = PROVOCATIONS,
    unsafe_no_gates: Unsafe = False,
    concurrency: Concurrency = 8,
) -> None:
    """Simulated users talk to the running bot (bot.api_url); the nightly job runs between
    days (`tuneloop scheduler`, or `tuneloop nightly --now`, trains on the last day's)."""
    settings = load_settings()
    store = open_store(settings)
    require_current_schema(store.engine)
    _run_loop(
        settings,
        store,
        settings.bot.api_url,
        _population(users, questions, trolls, troll_activity, probes, provocations, concurrency),
        days=days,
        unsafe=unsafe_no_gates,
    )


def fill_base_defaults(settings: Settings) -> None:
    """The demo's answer length and DPO learning rate for a pretrained base, where the
    settings (file or environment) are silent."""
    for section, name, value in (
        (settings.bot, "max_new_tokens", BASE_ANSWER_TOKENS),
        (settings.trainer, "learning_rate", BASE_DPO_LR),
    ):
        if name not in section.model_fields_set:
            setattr(section, name, value)


def match_batch_to_users(settings: Settings, concurrency: int) -> None:
    """The demo's bot answers as many users in one pass as talk to it at once, where the
    settings (file or environment) leave bot.max_batch open."""
    if "max_batch" not in settings.bot.model_fields_set:
        settings.bot.max_batch = concurrency


def _population(
    users: int,
    questions: int,
    trolls: float,
    troll_activity: int,
    probes: float,
    provocations: float,
    concurrency: int,
) -> "Population":
    from tuneloop.simulation import Population

    if trolls + probes > 1:
        fail(f"--trolls {trolls} and --probes {probes} add up to more than all the users.")
    return Population(
        users=users,
        questions_per_user=questions,
        troll_share=trolls,
        troll_activity=troll_activity,
        probe_share=probes,
        provocation_share=provocations,
        concurrency=concurrency,
    )


def _run_loop(settings, store, url, population, *, days, unsafe, swap=None, bad_night=None):
    from trainer.corpus import load_topics
    from tuneloop.loop import plot_days, run_days, without_gates
    from tuneloop.training import nightly_plan

    if unsafe:
        error_console.print(
            "[bold red]UNSAFE: every gate (and the demo's serving guard) is off for this run.[/]"
        )
    plan = replace(nightly_plan(settings), quiet=True)
    keys = settings.bot.api_keys
    history = list(
        run_days(
            store,
            bot_url=url,
            days=days,
            population=population,
            plan=without_gates(plan) if unsafe else plan,
            topics=load_topics(),
            api_key=keys[0].get_secret_value() if keys else None,
            swap=swap,
            bad_night=bad_night,
        )
    )
    title = f"{days} simulated days, {population.users} users, {population.troll_share:.0%} trolls"
    if population.troll_share:
        title += f" asking {population.troll_activity}x as much"
    table = _day_table(store, history, title=title)
    console.print(table)
    plot = plot_days(history, settings.data_dir / "demo-trend.png", title=table.title)
    console.print(f"trend plot  {plot}")


def _day_table(store, history, *, title: str) -> Table:
    """One row per day; the canary's column only when there was a canary."""
    canaries = any(day.canary for day in history)
    columns = ["day", "model", "thumbs-up", "good", "good (held out)", "good (never trained)"]
    columns += ["rude", "pairs trained"]
    columns += ["decision", "canary (live numbers: canary vs active)"][: 2 if canaries else 1]
    table = Table(*columns, title=title)
    for day in history:
        result, run = day.result, day.run
        cells = [
            str(result.day),
            result.model,
            f"{result.thumbs_up_rate:.0%}",
            f"{result.share('good'):.0%}",
            f"{result.share('good', phrasings='held_out'):.0%}",
            f"{result.share('good', phrasings='never_trained'):.0%}",
            f"{result.share('rude'):.0%}",
            str(run.counts.get("pairs_trained", 0)) if run else "-",
            f"{run.status.value}: {run.decision}" if run else "- (no night after the last day)",
        ]
        table.add_row(*cells, *([_canary_cell(store, day.canary)] if canaries else []))
    return table


def _canary_cell(store, decisions) -> str:
    """The day's canary decisions (of a version's waits only the last), each with its live
    numbers."""
    from feedback import list_versions

    with store.session() as session:
        names = {version.id: version.name for version in list_versions(session)}
    lines = []
    for index, decision in enumerate(decisions):
        later = {d.version_id for d in decisions[index + 1 :]}
        if decision.outcome.value == "wait" and decision.version_id in later:
            continue
        name, outcome = names[decision.version_id], decision.outcome.value
        lines.append(f"{name} ({decision.phase.value}) {outcome}: {decision.reason}")
        if decision.numbers:
            live = (_live(decision.numbers, key, label) for key, label in LIVE.items())
            lines.append("  " + "; ".join(live))
    return "\n".join(lines)


LIVE = {"thumbs_up": "thumbs-up", "guard_flagged": "guard flags", "regenerated": "regenerated"}


def _live(numbers: dict, key: str, label: str) -> str:
    def rate(side: dict) -> str:
        return f"{side['rate']:.0%} of {side['n']}" if side["rate"] is not None else "-"

    return f"{label} {rate(numbers[key]['canary'])} vs {rate(numbers[key]['baseline'])}"
