"""The closed loop: simulated days of users rating the bot, the nightly job between them."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import httpx
from sqlmodel import select

from bot.client import BotClient
from feedback import Store, active_model_version, canary_model_version
from feedback.columns import utcnow
from feedback.models import CanaryDecision, TrainingRun
from trainer.corpus import Topic
from trainer.nightly import NightlyPlan, run_nightly
from tuneloop.simulation import DayResult, Population, simulate_day


@dataclass
class LoopDay:
    result: DayResult
    run: TrainingRun | None  # the night after the day; none after the last day
    # The canary's decisions during the day and its night, oldest first.
    canary: list[CanaryDecision] = field(default_factory=list)


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
    bad_night: int | None = None,
) -> Iterator[LoopDay]:
    """Each day: the users talk to the bot at `bot_url`; the nightly job runs between days (a
    night after the last one would train a model nobody rates), and a promotion or a new
    canary reaches the bot (through `swap`, or its own hot-swap) before the next day. From
    `bad_night` on, the first night that trains makes a deliberately worse candidate and lets
    it through its model gates, for the canary to catch (demo --inject-bad-candidate; a night
    with a canary still under comparison trains nothing)."""
    injected = False
    for day in range(1, days + 1):
        started = utcnow()
        serving = _serving(bot_url)
        canary = f" + canary {serving['canary']}" if serving["canary"] else ""
        result = simulate_day(
            lambda user: BotClient(bot_url, api_key=api_key, user=user),
            topics,
            population,
            day=day,
            model=serving["model"] + canary,
        )
        run = None
        if day < days:
            sabotage = bad_night is not None and day >= bad_night and not injected
            run = run_nightly(store, replace(plan, sabotage=sabotage), trigger="simulate")
            injected |= sabotage and run.candidate_version_id is not None
            if swap is not None:
                swap()
            canaries = plan.canary is not None and plan.canary.share > 0
            _wait_for_service(store, bot_url, canary=canaries)
        yield LoopDay(result=result, run=run, canary=_decisions_since(store, started))


def without_gates(plan: NightlyPlan) -> NightlyPlan:
    """The same plan with every gate off: only to show what the gates prevent."""
    return replace(plan, gates=False)


GOOD_LINES = [
    ("corpus", "good answers", "-"),
    ("held_out", "good answers, held-out phrasings", "--"),
    ("never_trained", "good answers, never-trained phrasings (probes)", ":"),
]


def plot_days(days: list[LoopDay], path: Path, *, title: str) -> Path:
    """The trend as a PNG: thumbs-up rate and the share of rude answers, per day."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numbers = [day.result.day for day in days]
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.plot(numbers, [d.result.thumbs_up_rate for d in days], marker="o", label="thumbs-up")
    for phrasings, label, style in GOOD_LINES:
        shares = [d.result.share("good", phrasings=phrasings) for d in days]
        axis.plot(numbers, shares, marker="o", linestyle=style, label=label)
    axis.plot(numbers, [d.result.share("rude") for d in days], marker="o", label="rude answers")
    axis.set(xlabel="day (the nightly job runs between days)", ylabel="share", ylim=(0, 1))
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


def _wait_for_service(store: Store, bot_url: str, *, canary: bool, timeout: float = 120) -> None:
    """Until the bot serves the store's active version, and its canary when canaries are on
    (its hot-swap polls every few seconds)."""
    with store.session() as session:
        active, trial = active_model_version(session), canary_model_version(session)
    wanted = (active.id, trial.id if trial and canary else None)

    def served() -> tuple[int | None, int | None]:
        serving = _serving(bot_url)
        return serving["model_version_id"], serving["canary_version_id"] if canary else None

    deadline = time.monotonic() + timeout
    while served() != wanted:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the bot at {bot_url} did not switch to {active.name}")
        time.sleep(0.5)


def _decisions_since(store: Store, since: datetime) -> list[CanaryDecision]:
    with store.session() as session:
        query = select(CanaryDecision).where(CanaryDecision.created_at >= since)
        return list(session.exec(query.order_by(CanaryDecision.id)).all())
