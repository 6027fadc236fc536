"""Login with roles: a name and a password; the admins' hash makes an admin, the operators' an
operator. Without either hash the dashboard stays closed. Every login is an audit row."""

import hashlib
import hmac
import os
from dataclasses import dataclass

import streamlit as st

from feedback import Store, record_audit
from feedback.models import ActorRole

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
NAME_LENGTH = 128  # the audit trail's actor column


@dataclass(frozen=True)
class Staff:
    """A logged-in operator or admin: the name recorded with every action, and the role."""

    name: str
    role: ActorRole


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash`, the value for dashboards.operator_password_hash (or admin_...)."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


def role_for(
    password: str, *, operator_hash: str | None, admin_hash: str | None
) -> ActorRole | None:
    """The role `password` opens: admin before operator (one password may be both)."""
    if admin_hash and verify_password(password, admin_hash):
        return ActorRole.admin
    if operator_hash and verify_password(password, operator_hash):
        return ActorRole.operator
    return None


def logged_in(store: Store, *, operator_hash: str | None, admin_hash: str | None) -> Staff | None:
    """Who is logged in; until someone is, the login form (or why the dashboard is closed)."""
    if staff := st.session_state.get("staff"):
        return staff
    st.title("tuneloop operators")
    if not (operator_hash or admin_hash):
        st.error(
            "The dashboard is closed: no operator or admin password is configured. Make a hash "
            "with `tuneloop dashboard --hash-password` and set it as "
            "TUNELOOP_DASHBOARDS__OPERATOR_PASSWORD_HASH (review and correct) or "
            "TUNELOOP_DASHBOARDS__ADMIN_PASSWORD_HASH (also promote, roll back, erase users and "
            "change settings)."
        )
        return None
    with st.form("login"):
        name = st.text_input("Your name (recorded with every action)", max_chars=NAME_LENGTH)
        password = st.text_input("Password", type="password")
        if st.form_submit_button("Log in"):
            role = role_for(password, operator_hash=operator_hash, admin_hash=admin_hash)
            if name.strip() and role is not None:
                st.session_state.staff = Staff(name.strip(), role)
                _record_login(store, st.session_state.staff, "login")
                st.rerun()
            _record_failed_login(store, name.strip(), no_name=role is not None)
            st.error("Wrong password, or no name given.")
    return None


def log_out_button(store: Store, staff: Staff) -> None:
    """In the sidebar: who is logged in, with which rights, and a way out."""
    st.sidebar.caption(f"Logged in as {staff.name} ({staff.role.value})")
    if staff.role is not ActorRole.admin:
        st.sidebar.caption(
            "Operators review and correct. Promoting, rolling back, erasing users and "
            "changing settings are for admins."
        )
    if st.sidebar.button("Log out", key="log_out"):
        _record_login(store, staff, "logout")
        del st.session_state.staff
        st.rerun()


def _record_login(store: Store, staff: Staff, action: str) -> None:
    with store.session() as session:
        record_audit(session, actor=staff.name, role=staff.role, action=action)


def _record_failed_login(store: Store, name: str, *, no_name: bool) -> None:
    # The role column needs a value: a failed login claims none, so it gets the least one.
    with store.session() as session:
        record_audit(
            session,
            actor=name[:NAME_LENGTH] or "(no name)",
            role=ActorRole.visitor,
            action="login_failed",
            details={"reason": "no name" if no_name else "wrong password"},
        )
