"""Who may do what: operators review and correct; admins also promote, roll back, erase users
and change settings. Pages ask to grey out controls; the actions ask again before acting."""

from dashboards.auth import Staff
from feedback.models import ActorRole

ADMIN_ONLY = frozenset({"promote", "rollback", "erase", "change_setting"})
EXPLANATION = "Only admins may do this: log in with the admin password."


class NotAllowed(PermissionError):
    """Someone asked for an action their role does not carry."""


def allowed(staff: Staff, action: str) -> bool:
    return staff.role is ActorRole.admin or action not in ADMIN_ONLY
