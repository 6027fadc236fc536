"""Operator login: a scrypt password hash in settings; without one the dashboard stays closed."""

import hashlib
import hmac
import os

import streamlit as st

SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash`, the value for dashboards.operator_password_hash."""
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


def logged_in_operator(password_hash: str | None) -> str | None:
    """The operator's name once logged in; until then the login form (or why it is closed)."""
    if operator := st.session_state.get("operator"):
        return operator
    st.title("tuneloop operators")
    if not password_hash:
        st.error(
            "The dashboard is closed: no operator password is configured. Make a hash with "
            "`tuneloop dashboard --hash-password` and set it as "
            "TUNELOOP_DASHBOARDS__OPERATOR_PASSWORD_HASH."
        )
        return None
    with st.form("login"):
        name = st.text_input("Your name (recorded with every review)")
        password = st.text_input("Password", type="password")
        if st.form_submit_button("Log in"):
            if name.strip() and verify_password(password, password_hash):
                st.session_state.operator = name.strip()
                st.rerun()
            st.error("Wrong password, or no name given.")
    return None
