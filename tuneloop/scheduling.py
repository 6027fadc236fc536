"""The schedule: APScheduler with the nightly job and the retention purge on cron triggers and the
canary check on an interval, jobs kept in the project's database, and a claim per night (per day)
so that one replica runs the nightly job (the purge) when several share the store."""

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
RETENTION_JOB_ID = "retention"
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
    if settings.governance.retention_days is not None:
        scheduler.add_job(
            "tuneloop.scheduling:retention_job",
            CronTrigger.from_crontab(settings.governance.retention_schedule, timezone=zone),
            id=RETENTION_JOB_ID,
            name="retention",
            replace_existing=True,
        )
    return scheduler


def nightly_trigger(settings: Settings) -> CronTrigger:
    zone = ZoneInfo(settings.trainer.timezone)
    return CronTrigger.from_crontab(settings.trainer.schedule, timezone=zone)


def next_run(settings: Settings, after: datetime | None = None) -> datetime:
    zone = ZoneInfo(settings.trainer.timezone)
    return nightly_trigger(settings).get_next_fire_time(None, after or datetime.now(zone))


def claim_today(settings: Settings, store: Store, job: str, now: datetime | None) -> bool:
    """Whether this replica runs `job` today (in the schedule's zone): the first to ask does."""
    day = (now or datetime.now(ZoneInfo(settings.trainer.timezone))).date().isoformat()
    with store.session() as session:
        if claim(session, job=job, period=day, holder=f"{socket.gethostname()}:{os.getpid()}"):
            return True
    log.info("the %s %s job is another replica's", day, job)
    return False


def nightly_job(now: datetime | None = None) -> None:
    """What the scheduler runs: the night's pipeline, unless another replica claimed it."""
    from trainer.nightly import run_nightly
    from tuneloop.training import nightly_plan

    settings = Settings()
    store = open_store(settings)
    if not claim_today(settings, store, JOB_ID, now):
        return
    run = run_nightly(store, nightly_plan(settings), trigger="schedule")
    log.info("nightly run %s: %s (%s)", run.id, run.status.value, run.decision)


def canary_job() -> None:
    """What the scheduler runs between nights: check the canary, or the version under watch
    (replicas checking at the same time take turns on PostgreSQL's row locks)."""
    from tuneloop.canary import canary_plan, check_canary

    settings = Settings()
    check_canary(open_store(settings), canary_plan(settings), trigger="schedule")


def retention_job(now: datetime | None = None) -> None:
    """What the scheduler runs daily: purge expired texts, once per day across replicas."""
    from tuneloop.governance import purge_expired_texts

    settings = Settings()
    store = open_store(settings)
    if not claim_today(settings, store, RETENTION_JOB_ID, now):
        return
    purged = purge_expired_texts(settings, store)
    if purged is not None:
        log.info("retention: purged %d messages, %d pairs", purged.messages, purged.pairs)
