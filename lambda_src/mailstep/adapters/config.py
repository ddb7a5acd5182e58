"""Configuration: resource names from the environment, runtime settings from SSM.

SSM values are read with a 5-minute cache (Powertools parameters). The unsubscribe
secret is a SecureString, decrypted on read and never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mailstep.domain.services import ConfigurationError, RuntimeSettings

SSM_MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class Environment:
    table: str
    events_table: str
    template_bucket: str
    configuration_set: str
    event_bus: str | None
    config_parameter: str | None
    secret_parameter: str | None
    broadcast_queue_url: str | None = None
    broadcast_state_machine: str | None = None
    broadcast_send_rate: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Environment:
        env = os.environ if env is None else env

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigurationError(f"environment variable {name} is not set")
            return value

        return cls(
            table=required("MAILSTEP_TABLE"),
            events_table=required("MAILSTEP_EVENTS_TABLE"),
            template_bucket=env.get("MAILSTEP_TEMPLATE_BUCKET", "").strip(),
            configuration_set=env.get("MAILSTEP_CONFIGURATION_SET", "").strip(),
            event_bus=env.get("MAILSTEP_EVENT_BUS", "").strip() or None,
            config_parameter=env.get("MAILSTEP_CONFIG_PARAMETER", "").strip() or None,
            secret_parameter=env.get("MAILSTEP_SECRET_PARAMETER", "").strip() or None,
            broadcast_queue_url=env.get("MAILSTEP_BROADCAST_QUEUE_URL", "").strip() or None,
            broadcast_state_machine=env.get("MAILSTEP_BROADCAST_STATE_MACHINE", "").strip() or None,
            broadcast_send_rate=_positive(env, "MAILSTEP_BROADCAST_SEND_RATE", 10.0),
        )

    def require(self, name: str) -> str:
        """A setting only some functions need, with an error naming its variable."""
        value = getattr(self, name)
        if not value:
            raise ConfigurationError(f"environment variable MAILSTEP_{name.upper()} is not set")
        return str(value)


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ConfigurationError(f"environment variable {name} must be a positive number: {raw!r}")
    return value


def _get_parameter(name: str, *, decrypt: bool = False) -> str:
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415 - cold-start cost

    value = parameters.get_parameter(name, decrypt=decrypt, max_age=SSM_MAX_AGE_SECONDS)
    return str(value)


def runtime_config(env: Environment) -> dict[str, Any]:
    if not env.config_parameter:
        return {}
    import json  # noqa: PLC0415

    try:
        value = json.loads(_get_parameter(env.config_parameter))
    except ValueError as exc:
        raise ConfigurationError(f"{env.config_parameter} does not hold a JSON object") from exc
    if not isinstance(value, dict):
        raise ConfigurationError(f"{env.config_parameter} does not hold a JSON object")
    return value


def unsubscribe_secret(env: Environment) -> bytes:
    if not env.secret_parameter:
        raise ConfigurationError("MAILSTEP_SECRET_PARAMETER is not set")
    return _get_parameter(env.secret_parameter, decrypt=True).encode()


def runtime_settings(env: Environment) -> RuntimeSettings:
    config = runtime_config(env)
    return RuntimeSettings(
        unsubscribe_url=str(config.get("unsubscribe_url") or ""),
        secret=unsubscribe_secret(env),
        data_ttl_days=int(config.get("data_ttl_days") or 0),
        token_ttl_days=int(config.get("token_ttl_days") or 90),
    )


def events_ttl_days(env: Environment) -> int:
    return int(runtime_config(env).get("events_ttl_days") or 365)


def display_names_key(env: Environment) -> str:
    return str(runtime_config(env).get("display_names_key") or "display-names.json")


def reset() -> None:
    """Drop cached SSM values (tests)."""
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415
    from aws_lambda_powertools.utilities.parameters import base  # noqa: PLC0415

    parameters.clear_caches()  # type: ignore[no-untyped-call]
    base.DEFAULT_PROVIDERS.clear()  # type: ignore[attr-defined]


def reply_forward_to(env: Environment) -> str | None:
    """Where replies are forwarded (runtime config ``reply_forward_to``); None: nowhere."""
    value = str(runtime_config(env).get("reply_forward_to") or "").strip()
    return value or None
