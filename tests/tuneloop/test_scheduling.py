"""The nightly schedule: cron from settings, jobs kept in the database, one replica per night."""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import select

from feedback.claims import claim
from feedback.migrate import upgrade
from feedback.models import AuditEvent, RunStatus, TrainingRun
from tuneloop.scheduling import (
    CANARY_JOB_ID,
    JOB_ID,
    JOBS_TABLE,
    RETENTION_JOB_ID,
    build_scheduler,
    canary_job,
    next_run,
    nightly_job,
    retention_job,
)
from tuneloop.settings import Settings
from tuneloop.store import open_store

OSLO = ZoneInfo("Europe/Oslo")


def test_the_next_run_follows_the_crontab_and_time_zone():
    settings = Settings(trainer={"schedule": "30 2 * * *", "timezone": "Europe/Oslo"})
    after = datetime(2026, 11, 27, 12, 0, tzinfo=OSLO)
    assert next_run(settings, after) == datetime(2026, 11, 28, 2, 30, tzinfo=OSLO)


def test_the_job_is_kept_in_the_database_once_across_restarts(store):
    settings = Settings(trainer={"schedule": "0 3 * * *"})
    for _ in range(2):  # a restart replaces the job, it does not add a second one
        scheduler = build_scheduler(settings, store, BackgroundScheduler)
        scheduler.start(paused=True)
        job = scheduler.get_job(JOB_ID)
        assert (job.next_run_time.hour, job.next_run_time.minute) == (3, 0)
        assert job.coalesce and job.max_instances == 1 and job.misfire_grace_time >= 3600
        scheduler.shutdown(wait=False)
    with store.engine.connect() as connection:
        rows = connection.execute(sa.text(f"SELECT id FROM {JOBS_TABLE}")).scalars().all()
    assert sorted(rows) == sorted([JOB_ID, CANARY_JOB_ID, RETENTION_JOB_ID])


def test_only_one_of_several_replicas_claims_a_night(store):
    def try_claim(replica: int) -> bool:
        with store.session() as session:
            return claim(session, job="nightly", period="2026-11-27", holder=f"replica-{replica}")

    with ThreadPoolExecutor(4) as pool:
        won = list(pool.map(try_claim, range(4)))
    assert won.count(True) == 1
    with store.session() as session:
        assert claim(session, job="nightly", period="2026-11-28", holder="replica-0")


def test_the_nightly_job_runs_once_per_night(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path))
    store = open_store(Settings())
    upgrade(store.engine)
    night = datetime(2026, 11, 27, 3, 0, tzinfo=ZoneInfo("UTC"))
    nightly_job(now=night)
    nightly_job(now=night)  # a second replica, the same night
    with store.session() as session:
        runs = session.exec(select(TrainingRun)).all()
    assert len(runs) == 1
    assert runs[0].status == RunStatus.skipped and "no active model" in runs[0].decision
    assert runs[0].trigger == "schedule"


def test_the_canary_is_checked_on_an_interval(store, tmp_path, monkeypatch):
    settings = Settings(canary={"check_minutes": 5})
    scheduler = build_scheduler(settings, store, BackgroundScheduler)
    scheduler.start(paused=True)
    job = scheduler.get_job(CANARY_JOB_ID)
    assert job.trigger.interval.total_seconds() == 300 and job.max_instances == 1
    scheduler.shutdown(wait=False)

    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path))
    upgrade(open_store(Settings()).engine)
    canary_job()  # nothing in service yet: nothing to decide, and no error


def test_retention_runs_daily_once_across_replicas_and_not_when_off(store, tmp_path, monkeypatch):
    settings = Settings(governance={"retention_schedule": "15 1 * * *"})
    scheduler = build_scheduler(settings, store, BackgroundScheduler)
    scheduler.start(paused=True)
    job = scheduler.get_job(RETENTION_JOB_ID)
    assert (job.next_run_time.hour, job.next_run_time.minute) == (1, 15)
    scheduler.shutdown(wait=False)
    kept_forever = Settings(governance={"retention_days": None})
    assert RETENTION_JOB_ID not in {
        job.id for job in build_scheduler(kept_forever, store).get_jobs()
    }

    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path))
    local = open_store(Settings())
    upgrade(local.engine)
    day = datetime(2026, 11, 27, 1, 15, tzinfo=ZoneInfo("UTC"))
    retention_job(now=day)
    retention_job(now=day)  # a second replica, the same day
    with local.session() as session:
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "retention")).all()
    assert len(audit) == 1 and audit[0].role == "system"
