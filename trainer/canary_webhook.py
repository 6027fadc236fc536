"""Tell the operators' webhook about a canary decision: one JSON POST; a failure is logged, never
raised, so that an unreachable webhook cannot undo or block a rollback."""

import logging

import httpx

from feedback.models import CanaryDecision

log = logging.getLogger(__name__)
TIMEOUT_S = 5.0


def post_decision(
    url: str, decision: CanaryDecision, *, names: dict[str, str | None], timeout: float = TIMEOUT_S
) -> bool:
    """POST the decision as JSON to `url`; True when the webhook answered 2xx."""
    payload = {
        "event": "canary_decision",
        "id": decision.id,
        "phase": decision.phase.value,
        "outcome": decision.outcome.value,
        "version": {"id": decision.version_id, "name": names.get("version")},
        "baseline": {"id": decision.baseline_version_id, "name": names.get("baseline")},
        "reason": decision.reason,
        "method": decision.method,
        "trigger": decision.trigger,
        "numbers": decision.numbers,
        "created_at": decision.created_at.isoformat(),
    }
    try:
        httpx.post(url, json=payload, timeout=timeout).raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("the canary webhook %s failed for decision %s: %r", url, decision.id, exc)
        return False
    return True
