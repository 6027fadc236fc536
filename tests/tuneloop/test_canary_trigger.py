"""The bot's canary trigger: a check after every N signals, in the background, one at a time."""

import logging
import threading

from tuneloop.canary import CanaryTrigger, canary_plan
from tuneloop.settings import Settings


def test_a_check_runs_after_every_n_signals_one_at_a_time():
    checks, release = [], threading.Event()

    def check() -> None:
        checks.append(threading.current_thread().name)
        release.wait(5)

    trigger = CanaryTrigger(check, every=3)
    for _ in range(2):
        trigger()
    assert checks == []
    trigger()  # the third: a check starts, off the caller's thread
    for _ in range(5):  # while it runs, signals count toward the next one but start nothing
        trigger()
    release.set()
    trigger.join()
    assert checks == ["canary-check"]
    trigger()  # 6 counted since: the next check
    trigger.join()
    assert len(checks) == 2


def test_a_failing_check_is_logged_and_the_next_one_runs(caplog):
    def check() -> None:
        raise RuntimeError("database away")

    trigger = CanaryTrigger(check, every=1)
    with caplog.at_level(logging.ERROR, logger="tuneloop.canary"):
        trigger()
        trigger.join()
    assert "the canary check failed" in caplog.text


def test_the_plan_follows_the_settings():
    plan = canary_plan(Settings(canary={"share": 0.2, "margin": 0.1, "watch_hours": 2}))
    assert plan.share == 0.2 and plan.policy.margin == 0.1
    assert plan.watch.total_seconds() == 7200 and plan.policy.confidence == 0.95
