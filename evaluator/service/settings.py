"""The service's settings: defaults, then the `serve:` section of regelverk.yaml, then REGELVERK_* environment variables, then the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServiceSettings:
    """Every setting of `regelverk serve` (docs/service.md lists them with their meaning)."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    # Limits: each refused with its own HTTP status and a stable error code.
    max_body_bytes: int = 64 * MIB        # 413 body_too_large
    max_line_bytes: int = 1 * MIB         # 413 line_too_large (one NDJSON line)
    body_timeout_seconds: float = 60.0    # 408 body_timeout (the whole body must arrive by then)
    max_header_bytes: int = 64 * 1024     # 431 header_too_large (request line and headers)
    header_timeout_seconds: float = 10.0  # 408 header_timeout (the head must arrive by then)
    max_concurrent_batches: int = 4       # per worker; a batch waits for a slot up to
    batch_wait_seconds: float = 10.0      # this long, then 503 too_many_batches
    graceful_shutdown_seconds: float = 30.0
    keep_alive_seconds: float = 5.0
    # Logs (logging names regelverk.decisions and regelverk.access).
    decision_log: bool = True
    decision_log_mask: tuple[str, ...] = ("patient",)
    access_log: bool = True
    log_config: str | None = None         # a logging dictConfig file (JSON or YAML) for uvicorn
    # Each log is written by a thread of its own (logs.LogWriter): while this many decision-log
    # lines wait, no new decision is made (503 decision_log_backlog after log_wait_seconds);
    # access-log lines beyond as many are dropped (counted); no decision-log line ever is.
    log_backlog_lines: int = 10_000
    log_wait_seconds: float = 10.0
    # Reload by request: POST /admin/reload with "Authorization: Bearer <token>"; off when unset.
    admin_token: str | None = field(default=None, repr=False)


_KINDS = {f.name: f.type for f in fields(ServiceSettings)}


def _convert(name: str, value, source: str):
    kind = _KINDS[name]
    try:
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            number = int(value)
            if number < (0 if name == "port" else 1) or (name == "port" and number > 65535):
                raise ValueError
            return number
        if kind == "float":
            number = float(value)
            if not number > 0:
                raise ValueError
            return number
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind == "tuple[str, ...]":
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
                raise ValueError
            return tuple(i.strip() for i in items if i.strip())
        if value is None:
            return None
        if not isinstance(value, (str, int)):
            raise ValueError
        return str(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{source}: '{name}' cannot be {value!r}: it is {_WORDS[kind]}") from None


_WORDS = {"int": "a whole number (at least 1; a port from 0 to 65535)", "float": "a number of seconds above 0",
          "bool": "true or false", "tuple[str, ...]": "a list of field names", "str | None": "a text",
          "str": "a text"}


class SettingsError(ValueError):
    """A setting that cannot be used: says which, where it came from and what it must be."""


def env_name(name: str) -> str:
    return "REGELVERK_" + name.upper()


def service_settings(section: dict | None = None, environ=None, **given) -> ServiceSettings:
    """The settings: defaults, overridden by the `serve:` section, by environment variables
    (REGELVERK_PORT, REGELVERK_MAX_BODY_BYTES, …), and by `given` (the command line, None for
    an option not given). Raises SettingsError on an unknown or unusable setting."""
    values: dict = {}
    for name, value in (section or {}).items():
        if name not in _KINDS:
            from ..errors import closest

            near = closest(str(name), list(_KINDS))
            raise SettingsError(f"regelverk.yaml serve: unknown setting '{name}'"
                                + (f" (did you mean '{near}'?)" if near else ""))
        values[name] = _convert(name, value, "regelverk.yaml serve")
    environ = os.environ if environ is None else environ
    for name in _KINDS:
        if env_name(name) in environ:
            values[name] = _convert(name, environ[env_name(name)], f"environment {env_name(name)}")
    for name, value in given.items():
        if value is not None:
            values[name] = _convert(name, value, f"--{name.replace('_', '-')}")
    return replace(ServiceSettings(), **values)
