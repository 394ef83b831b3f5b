"""Organization settings: the default permissions new operators get.

Kept in ``fiftyops_settings`` (never ``config``: FiftyOne owns that collection name).
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.database import Database

from fiftyops_provider.access.permissions import (
    DEFAULT_MINIMUM_DATASET_PERMISSION,
    DEFAULT_MINIMUM_ROLE,
    DatasetPermission,
    Role,
    parse_dataset_permission,
    parse_role,
)

SETTINGS_COLLECTION = "fiftyops_settings"
ORGANIZATION_ID = "organization"


@dataclass
class OrganizationSettings:
    default_operator_minimum_role: Role = DEFAULT_MINIMUM_ROLE
    default_operator_minimum_dataset_permission: DatasetPermission = DEFAULT_MINIMUM_DATASET_PERMISSION


def get_organization_settings(db: Database) -> OrganizationSettings:
    raw = db[SETTINGS_COLLECTION].find_one({"_id": ORGANIZATION_ID}) or {}
    return OrganizationSettings(
        Role(raw.get("default_operator_minimum_role", DEFAULT_MINIMUM_ROLE)),
        DatasetPermission(raw.get("default_operator_minimum_dataset_permission", DEFAULT_MINIMUM_DATASET_PERMISSION)),
    )


def save_organization_settings(db: Database, settings: OrganizationSettings) -> OrganizationSettings:
    db[SETTINGS_COLLECTION].update_one(
        {"_id": ORGANIZATION_ID},
        {
            "$set": {
                "default_operator_minimum_role": int(settings.default_operator_minimum_role),
                "default_operator_minimum_dataset_permission": int(
                    settings.default_operator_minimum_dataset_permission
                ),
            }
        },
        upsert=True,
    )
    return settings


def update_organization_settings(
    db: Database,
    default_operator_minimum_role: Role | str | None = None,
    default_operator_minimum_dataset_permission: DatasetPermission | str | None = None,
) -> OrganizationSettings:
    """Change the given defaults (None keeps one); unknown names raise before anything is saved."""
    settings = get_organization_settings(db)
    if default_operator_minimum_role is not None:
        settings.default_operator_minimum_role = parse_role(default_operator_minimum_role)
    if default_operator_minimum_dataset_permission is not None:
        settings.default_operator_minimum_dataset_permission = parse_dataset_permission(
            default_operator_minimum_dataset_permission
        )
    return save_organization_settings(db, settings)
