"""BSON values as JSON, the same way for the CLI's ``--json`` and the UI's API."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Any

from bson import ObjectId


def json_default(value: Any) -> Any:
    """ObjectIds as strings, datetimes as ISO 8601 (naive ones are UTC: marked ``Z``), enums by value."""
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def jsonable(value: Any) -> Any:
    """``value`` converted to plain JSON types."""
    return json.loads(json.dumps(value, default=json_default))
