"""The closed loop: simulated days of users rating the bot, the nightly job between them."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from bot.client import BotClient
from feedback import Store, active_model_version
from feedback.models import TrainingRun
from trainer.corpus import Topic
from trainer.nightly import NightlyPlan, run_nightly
from tuneloop.simulation import DayResult, Population, simulate_day


@dataclass
class LoopDay:
    result: DayResult
    run: TrainingRun


def run_days(
    store: Store,
    *,
    bot_url: str,
    days: int,
    population: Population,
    plan: NightlyPlan,
    topics: list[Topic],
    api_key: str | None = None,
    swap: Callable[[], object] | None = None,
) -> Iterator[LoopDay]:
    """Each day: the users talk to the bot at `bot_url`, then the nightly job runs; a
    promotion reaches the bot (through `swap`, or its own hot-swap) before the next day."""
    for day in range(1, days + 1):
        result = simulate_day(
            lambda user: BotClient(bot_url, api_key=api_key, user=user),
            topics,
            population,
            day=day,
            model=_serving(bot_url)["model"],
        )
        run = run_nightly(store, plan, trigger="simulate")
        if swap is not None:
            swap()
        _wait_for_active(store, bot_url)
        yield LoopDay(result=result, run=run)


def without_gates(plan: NightlyPlan) -> NightlyPlan:
    """The same plan with every gate off: only to show what the gates prevent."""
    return replace(plan, gates=False)


def plot_days(days: list[LoopDay], path: Path, *, title: str) -> Path:
    """The trend as a PNG: thumbs-up rate and the share of rude answers, per day."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numbers = [day.result.day for day in days]
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.plot(numbers, [d.result.thumbs_up_rate for d in days], marker="o", label="thumbs-up")
    axis.plot(numbers, [d.result.share("good") for d in days], marker="o", label="good answers")
    axis.plot(
        numbers,
        [d.result.share("good", held_out=True) for d in days],
        marker="o",
        linestyle="--",
        label="good answers, held-out phrasings",
    )
    axis.plot(numbers, [d.result.share("rude") for d in days], marker="o", label="rude answers")
    axis.set(xlabel="day (the nightly job runs after each)", ylabel="share", ylim=(0, 1))
    axis.set_xticks(numbers)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(loc="best")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _serving(bot_url: str) -> dict:
    return httpx.get(f"{bot_url}/healthz", timeout=30).json()


def _wait_for_active(store: Store, bot_url: str, timeout: float = 120) -> None:
    """Until the bot serves the store's active version (its hot-swap polls every few seconds)."""
    with store.session() as session:
        active = active_model_version(session)
    deadline = time.monotonic() + timeout
    while _serving(bot_url)["model_version_id"] != active.id:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the bot at {bot_url} did not switch to {active.name}")
        time.sleep(0.5)
