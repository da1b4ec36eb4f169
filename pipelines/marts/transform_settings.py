"""Settings of the SQL transforms, from the `[warehouse]` configuration (`pipelines.config`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from pipelines.common.redact import remember
from pipelines.config import (
    DEFAULT_CLOSING_STATUSES,
    DEFAULT_LANGUAGES,
    WarehouseConfiguration,
    warehouse_config,
)
from pipelines.marts.freshness import DEFAULT_FRESHNESS_MAX_AGE, parse_age

log = logging.getLogger(__name__)

# documented development default; production sets WAREHOUSE__PSEUDONYMIZATION_KEY or
# `pseudonymization_key` under [warehouse] in .dlt/secrets.toml
DEV_PSEUDONYMIZATION_KEY = "development-only-pseudonymization-key"


@dataclass(frozen=True)
class TransformSettings:
    """Language preference for display names, closing statuses, pseudonymisation key."""

    language_preference: tuple[str, ...] = DEFAULT_LANGUAGES
    closing_statuses: tuple[str, ...] = DEFAULT_CLOSING_STATUSES
    # a secret: never in a repr, a log line, an error or the build state (pipelines.marts.key_check)
    pseudonymization_key: str = field(default=DEV_PSEUDONYMIZATION_KEY, repr=False)
    # warn when the newest event is older (not part of the build key: it changes no table)
    freshness_max_age: timedelta | None = parse_age(DEFAULT_FRESHNESS_MAX_AGE)

    def public_settings(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Every setting but the key: what the build state may depend on in clear."""
        return self.language_preference, self.closing_statuses

    @property
    def uses_dev_key(self) -> bool:
        """True when no secret was configured and the development default is in use."""
        return self.pseudonymization_key == DEV_PSEUDONYMIZATION_KEY


def load_transform_settings(config: WarehouseConfiguration | None = None) -> TransformSettings:
    """The marts' settings from `[warehouse]` (resolved now unless given); defaults otherwise."""
    config = config or warehouse_config()
    settings = TransformSettings(
        language_preference=tuple(config.language_preference),
        closing_statuses=tuple(config.closing_statuses),
        pseudonymization_key=str(config.pseudonymization_key or DEV_PSEUDONYMIZATION_KEY),
        freshness_max_age=parse_age(str(config.freshness_max_age)),
    )
    remember(settings.pseudonymization_key)  # scrubbed from any log line or error
    if settings.uses_dev_key:
        log.warning(
            "no pseudonymization key set (WAREHOUSE__PSEUDONYMIZATION_KEY): customer keys use "
            "the development default and are not safe to share"
        )
    return settings
