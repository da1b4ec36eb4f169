"""Settings of the SQL transforms, read the dlt way (config.toml, secrets.toml, env vars)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import dlt

from pipelines.redact import remember

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
    # a secret: never in a repr, a log line, an error or the build state (pipelines.key_check)
    pseudonymization_key: str = field(default=DEV_PSEUDONYMIZATION_KEY, repr=False)

    def public_settings(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Every setting but the key: what the build state may depend on in clear."""
        return self.language_preference, self.closing_statuses

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
    remember(settings.pseudonymization_key)  # scrubbed from any log line or error
    if settings.uses_dev_key:
        log.warning(
            "no pseudonymization key set (WAREHOUSE__PSEUDONYMIZATION_KEY): customer keys use "
            "the development default and are not safe to share"
        )
    return settings
