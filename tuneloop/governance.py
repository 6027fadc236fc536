"""Forgetting a user and purging expired texts, wired from settings: the store, the snapshot
files, the database's free space and the log files, each with an audit row."""

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from feedback import Store, pseudonymize, record_audit
from feedback.erasure import ErasedRows, erase_user, find_user_data, scrub_free_space
from feedback.models import ActorRole
from feedback.retention import PurgedRows, purge_expired, retention_start
from tuneloop.logs import log_files, scrub_logs
from tuneloop.settings import Settings


@dataclass
class ErasureReport:
    """What `forget_user` did. The receipt identifies the erasure in the audit trail without
    the pseudonym: whoever knows the user id can recompute it, nobody can reverse it."""

    receipt: str
    rows: ErasedRows
    log_lines_removed: int
    storage: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def forget_user(
    settings: Settings, store: Store, user_id: str, *, actor: str, role: ActorRole
) -> ErasureReport:
    """Erase everything `user_id` left: rows, snapshot rows, log lines, freed database pages."""
    with store.session() as session:
        pseudonym = pseudonymize(session, user_id)
        data = find_user_data(session, pseudonym)
        rows = erase_user(session, pseudonym, data)
        receipt = erasure_receipt(pseudonym)
        counts = {key: value for key, value in asdict(rows).items() if key != "snapshots_rewritten"}
        record_audit(
            session,
            actor=actor,
            role=role,
            action="erase",
            target=f"receipt:{receipt}",
            details=counts | {"snapshots_rewritten": rows.snapshots_rewritten},
        )
    storage = scrub_free_space(store.engine)
    needles = {pseudonym, user_id, *data.texts}
    needles |= {str(item) for item in data.conversation_ids | data.message_ids}
    lines = scrub_logs(settings.logs_dir, needles)
    return ErasureReport(receipt=receipt, rows=rows, log_lines_removed=lines, storage=storage)


def erasure_receipt(pseudonym: str) -> str:
    return hashlib.sha256(f"tuneloop erasure:{pseudonym}".encode()).hexdigest()[:16]


def purge_expired_texts(settings: Settings, store: Store) -> PurgedRows | None:
    """Retention: purge what is older than governance.retention_days (None: keep all), and log
    files last written before then; one audit row says what went."""
    before = retention_start(settings.governance.retention_days)
    if before is None:
        return None
    with store.session() as session:
        purged = purge_expired(session, before=before)
        logs = log_files(settings.logs_dir)
        old_logs = [path for path in logs if path.stat().st_mtime < before.timestamp()]
        for path in old_logs:
            path.unlink()
        details = asdict(purged) | {"before": before.isoformat(), "log_files": len(old_logs)}
        record_audit(
            session, actor="retention", role=ActorRole.system, action="retention", details=details
        )
    scrub_free_space(store.engine)
    return purged
