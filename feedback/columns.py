"""Column types shared by every table: time-ordered ids, UTC timestamps, string enums."""

import enum
import os
import time
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): unique across replicas, yet ordered by creation time.

    Ids are made by the writer, not the database, so the bot can hand a message id to
    the user before the row is written, and a retried write carries the same id.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 64 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    return uuid.UUID(int=value)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone and PostgreSQL does; this makes both return the same thing.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(enum_type: type[enum.StrEnum]) -> sa.Enum:
    """A VARCHAR with a CHECK constraint holding the enum's values, the same on every database."""
    return sa.Enum(
        enum_type,
        name=enum_type.__name__.lower(),
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum_type),
        values_callable=lambda members: [member.value for member in members],
    )
