"""Temporary tables: Python-side results (rater weights, prompt groups) joined in SQL."""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session


def temporary_table(
    session: Session, name: str, columns: Sequence[sa.Column], rows: list[dict[str, Any]]
) -> sa.Table:
    """A temporary table `name` (replaced if this connection has one) holding `rows`."""
    table = sa.Table(name, sa.MetaData(), *columns, prefixes=["TEMPORARY"])
    connection = session.connection()
    table.drop(connection, checkfirst=True)
    table.create(connection)
    if rows:
        connection.execute(table.insert(), rows)
    return table
