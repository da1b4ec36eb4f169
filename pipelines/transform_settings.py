"""Settings of the SQL transforms, read the dlt way (config.toml, secrets.toml, env vars)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dlt

log = logging.getLogger(__name__)

# documented development default; production sets WAREHOUSE__PSEUDONYMIZATION_KEY or
# `pseudonymization_key` under [warehouse] in .dlt/secrets.toml
DEV_PSEUDONYMIZATION_KEY = "development-only-pseudonymization-key"
DEFAULT_LANGUAGES = ("en", "nl", "fr", "de")
DEFAULT_CLOSING_STATUSES = ("CLOSED", "COMPLETED", "CANCELLED")


@dataclass(frozen=True)
class TransformSettings:
    """Language preference for display names, closing statuses, pseudonymisation key."""

    language_preference: tuple[str, ...] = DEFAULT_LANGUAGES
    closing_statuses: tuple[str, ...] = DEFAULT_CLOSING_STATUSES
    pseudonymization_key: str = DEV_PSEUDONYMIZATION_KEY

    @property
    def uses_dev_key(self) -> bool:
        """True when no secret was configured and the development default is in use."""
        return self.pseudonymization_key == DEV_PSEUDONYMIZATION_KEY


def _as_tuple(value: object, default: tuple[str, ...]) -> tuple[str, ...]:
    if value in (None, "", []):
        return default
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[arg-type]
    return tuple(str(item).strip() for item in items if str(item).strip())


def load_transform_settings() -> TransformSettings:
    """Read `[warehouse]` settings; fall back to documented defaults."""
    key = dlt.secrets.get("warehouse.pseudonymization_key")
    settings = TransformSettings(
        language_preference=tuple(
            lang.lower()
            for lang in _as_tuple(
                dlt.config.get("warehouse.language_preference"), DEFAULT_LANGUAGES
            )
        ),
        closing_statuses=tuple(
            status.upper()
            for status in _as_tuple(
                dlt.config.get("warehouse.closing_statuses"), DEFAULT_CLOSING_STATUSES
            )
        ),
        pseudonymization_key=str(key) if key else DEV_PSEUDONYMIZATION_KEY,
    )
    if settings.uses_dev_key:
        log.warning(
            "no pseudonymization key set (WAREHOUSE__PSEUDONYMIZATION_KEY): customer keys use "
            "the development default and are not safe to share"
        )
    return settings
