"""The schedule: APScheduler with the nightly job on a cron trigger and the canary check on an
interval, jobs kept in the project's database, and a claim per night so that one replica runs
the nightly job when several share the store."""

import logging
import os
import socket
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from feedback import Store
from feedback.claims import claim
from tuneloop.settings import Settings
from tuneloop.store import open_store

log = logging.getLogger(__name__)

JOB_ID = "nightly"
CANARY_JOB_ID = "canary"
JOBS_TABLE = "tuneloop_scheduler_jobs"
MISFIRE_GRACE_S = 3 * 3600  # a night missed by up to 3 hours (a restart, say) still runs


def build_scheduler(
    settings: Settings, store: Store, scheduler_class: type[BaseScheduler] = BlockingScheduler
) -> BaseScheduler:
    zone = ZoneInfo(settings.trainer.timezone)
    scheduler = scheduler_class(
        timezone=zone,
        jobstores={"default": SQLAlchemyJobStore(engine=store.engine, tablename=JOBS_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S},
    )
    scheduler.add_job(
        "tuneloop.scheduling:nightly_job",
        nightly_trigger(settings),
        id=JOB_ID,
        name="nightly retraining",
        replace_existing=True,
    )
    scheduler.add_job(
        "tuneloop.scheduling:canary_job",
        IntervalTrigger(minutes=settings.canary.check_minutes, timezone=zone),
        id=CANARY_JOB_ID,
        name="canary check",
        replace_existing=True,
    )
    return scheduler


def nightly_trigger(settings: Settings) -> CronTrigger:
    zone = ZoneInfo(settings.trainer.timezone)
    return CronTrigger.from_crontab(settings.trainer.schedule, timezone=zone)


def next_run(settings: Settings, after: datetime | None = None) -> datetime:
    zone = ZoneInfo(settings.trainer.timezone)
    return nightly_trigger(settings).get_next_fire_time(None, after or datetime.now(zone))


def nightly_job(now: datetime | None = None) -> None:
    """What the scheduler runs: the night's pipeline, unless another replica claimed it."""
    from trainer.nightly import run_nightly
    from tuneloop.training import nightly_plan

    settings = Settings()
    store = open_store(settings)
    night = (now or datetime.now(ZoneInfo(settings.trainer.timezone))).date().isoformat()
    holder = f"{socket.gethostname()}:{os.getpid()}"
    with store.session() as session:
        if not claim(session, job=JOB_ID, period=night, holder=holder):
            log.info("the %s night's job is another replica's", night)
            return
    run = run_nightly(store, nightly_plan(settings), trigger="schedule")
    log.info("nightly run %s: %s (%s)", run.id, run.status.value, run.decision)


def canary_job() -> None:
    """What the scheduler runs between nights: check the canary, or the version under watch
    (replicas checking at the same time take turns on PostgreSQL's row locks)."""
    from tuneloop.canary import canary_plan, check_canary

    settings = Settings()
    check_canary(open_store(settings), canary_plan(settings), trigger="schedule")
