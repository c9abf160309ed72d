"""Every setting hitl-web reads, in one typed model: engine, web, gunicorn and ``hitl-web dev``.

Each field is read from one environment variable (``HITL_<FIELD>`` unless it names another, such
as ``REDIS_URL``); an empty variable counts as unset. A bad value stops the process with a
``SettingsError`` naming the variable. The README's configuration table is generated from this
model (``python -m hitl_web.devtools.settings_table --write``).

Nothing of hitl-web is imported here: gunicorn loads ``hitl_web.gunicorn_conf``, which reads these
settings, before gevent patches the standard library (and the engine's import pulls redis and rq).
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, AliasGenerator, Field, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .setting_types import WEEK, CommaSeparated, DurationText, HostPorts, ListsAsText, LogLevel


class SettingsError(ValueError):
    """A setting's value is unusable; the message names its environment variable."""


class Settings(BaseSettings):
    """hitl-web's settings: defaults, then the environment, then the values given to the constructor."""

    model_config = SettingsConfigDict(
        alias_generator=AliasGenerator(validation_alias=lambda name: f"HITL_{name.upper()}"),
        populate_by_name=True,  # Settings(lease_seconds=2) in code, HITL_LEASE_SECONDS in the environment
        case_sensitive=True,  # exactly the names the README lists
        env_ignore_empty=True,
        frozen=True,
        extra="forbid",
    )

    # -- every process: the engine -----------------------------------------------------------------
    redis_url: str = Field(
        "",
        validation_alias="REDIS_URL",
        repr=False,  # its password must not reach a log line
        description="the Redis every process shares; empty: `hitl-web dev` starts an embedded one",
    )
    redis_sentinels: HostPorts = Field(
        (),
        validation_alias="REDIS_SENTINELS",
        description="`host:port,...` of Redis Sentinels: every process asks them for the primary "
        "(`REDIS_URL` then gives only the password and database: `redis://:password@/0`)",
    )
    redis_sentinel_master: str = Field(
        "mymaster", min_length=1, validation_alias="REDIS_SENTINEL_MASTER", description="the primary's Sentinel name"
    )
    redis_sentinel_password: str = Field(
        "", repr=False, validation_alias="REDIS_SENTINEL_PASSWORD", description="the Sentinels' own password, if any"
    )
    min_replicas: int = Field(
        0,
        ge=0,
        description="replicas that must acknowledge a trigger, a decision and each step's completion before it counts",
    )
    replica_timeout: float = Field(
        1.0, gt=0, le=60, description="seconds to wait for those acknowledgements; past it the caller gets a 503"
    )
    key_prefix: str = Field(
        "hitl",
        min_length=1,
        description="prefix of every Redis key of the engine, so several deployments can share one Redis",
    )
    queue_name: str = Field("hitl", min_length=1, description="RQ queue of run jobs")
    lease_seconds: float = Field(
        30.0,
        gt=0,
        description="how long a run may go without its worker's heartbeat before another worker takes it",
    )
    sweep_interval: float = Field(
        0.1, gt=0, description="seconds between a worker's sweeps for due timeouts, wake-ups and expired leases"
    )
    finished_run_ttl: int = Field(WEEK, ge=0, description="finished runs expire after this many seconds (0 keeps them)")
    max_invoke_depth: int = Field(
        8, ge=1, le=100, description="how deep child runs may nest (context.invoke): a run at this depth may not invoke"
    )
    journal_max_len: int = Field(
        1000,
        ge=1,
        validation_alias=AliasChoices("HITL_JOURNAL_MAX_LEN", "HITL_STREAM_MAX_LEN"),
        description="journal entries (events) kept per run",
    )
    journal_ttl: int = Field(
        WEEK,
        ge=0,
        validation_alias=AliasChoices("HITL_JOURNAL_TTL", "HITL_STREAM_TTL"),
        description="a run's journal expires this many seconds after it finishes",
    )
    audit_max_len: int = Field(
        1_000_000,
        ge=1000,
        description="audit trail entries kept (decisions, votes, refusals, reassignments): export older ones first",
    )
    audit_readers: CommaSeparated = Field(
        (), description="API principals who may export the audit trail (GET /api/audit), comma-separated"
    )
    lookback_max: int = Field(
        16,
        ge=1,
        description="event ids whose decision a run keeps before it waits on them (lookback); the oldest goes first",
    )
    workflow_modules: CommaSeparated = Field(
        ("hitl_web.examples",), description="modules whose import registers workflows, comma-separated"
    )
    redis_max_connections: int = Field(
        64, ge=1, description="Redis connections per process (requests wait for a free one)"
    )
    log_level: LogLevel = Field("INFO", description="level of hitl-web's log lines (`DEBUG`, `INFO`, `WARNING`...)")
    metrics_dir: str = Field(
        "",
        validation_alias="PROMETHEUS_MULTIPROC_DIR",
        description="where every process writes its metrics for `/metrics` to sum (unset: a folder per key prefix "
        "in the temp dir)",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="`text` (key=value) or `json`: one JSON object per line, for log shippers"
    )
    approval_timeout: DurationText = Field(
        "5m", description="the example approval's timeout (a duration: `30s`, `5m`, `2h`, `7d`)"
    )

    # -- notifications (notifications/): who hears of an ask, and the links they decide with ---------
    notifiers: CommaSeparated = Field(
        (),
        description="`name=webhook:URL`, `name=slack:URL` or `name=email`, comma-separated: every ask's "
        "notifiers unless its workflow or wait names its own (`notify=[...]`)",
    )
    notifier_secrets: str = Field(
        "", repr=False, description="`name:secret,...`: the key each webhook's HMAC-SHA256 signature is made with"
    )
    smtp_url: str = Field(
        "", repr=False, description="the SMTP server e-mail notifiers send through: `smtp://[user:pass@]host:port`"
    )
    mail_from: str = Field("hitl-web@localhost", description="the sender of notification e-mails")
    public_url: str = Field(
        "http://127.0.0.1:5000", description="the address approvers open the app at: links in messages start with it"
    )
    link_ttl: DurationText | None = Field(
        None, description="a decision link expires this long after it is sent (unset: at the ask's deadline)"
    )
    links_require_login: bool = Field(False, description="a decision link asks its approver to sign in first")
    delivery_attempts: int = Field(5, ge=1, description="attempts of each notification before it is given up")
    delivery_backoff: float = Field(
        2.0, gt=0, description="seconds before a notification's second attempt; doubled each time, with jitter"
    )

    # -- the web process ---------------------------------------------------------------------------
    env: Literal["production", "development"] = Field(
        "production",
        description="`production` requires a strong `SECRET_KEY`, approvers and API tokens; "
        "`hitl-web dev` sets `development`",
    )
    secret_key: str = Field(
        "",
        validation_alias="SECRET_KEY",
        repr=False,
        description="signs sessions: required in production; `hitl-web dev` keeps one in `HITL_DATA_DIR`",
    )
    api_tokens: str = Field("", repr=False, description="`name:token,...` for the JSON API in production")
    require_login_to_view: bool = Field(False, description="viewers must sign in too")
    allowed_origins: CommaSeparated = Field(
        (), description="extra origins allowed to open WebSockets (a proxy's public URL), comma-separated"
    )
    allowed_hosts: CommaSeparated = Field(
        (),
        description="Host names the web process answers to (others: 400), comma-separated; empty: "
        "`127.0.0.1`, `localhost`, `::1` and a specific `HITL_WEB_HOST` locally, any in production",
    )
    cookie_secure: bool | None = Field(None, description="session cookies only over HTTPS; unset: `true` in production")
    session_idle: DurationText = Field("8h", description="a session ends this long unused")
    session_max: DurationText = Field("7d", description="a session ends this long after its sign-in")
    signin_failures_per_account: int = Field(
        5, ge=1, description="wrong passwords for one name before its sign-in attempts are throttled (429)"
    )
    signin_failures_per_address: int = Field(
        20, ge=1, description="wrong passwords from one client address before its attempts are throttled (429)"
    )
    max_sockets: int = Field(5000, ge=1, description="open WebSockets per web process; past it the handshake is a 503")
    max_sockets_per_address: int = Field(
        200,
        ge=1,
        description="open WebSockets per client address and web process; past it a 429 "
        "(behind a proxy every viewer has the proxy's address: raise it)",
    )

    # -- gunicorn (hitl_web/gunicorn_conf.py) ------------------------------------------------------
    web_host: str = Field(
        "0.0.0.0", description="the address the web process listens on (`hitl-web dev` sets it from `HOST`)"
    )
    port: int = Field(5000, ge=1, le=65535, validation_alias="PORT", description="web port")
    web_worker_class: str = Field(
        "gevent", min_length=1, description="gunicorn worker class (`gthread` needs `WEB_THREADS` >= open sockets)"
    )
    web_concurrency: int = Field(
        1, ge=1, validation_alias="WEB_CONCURRENCY", description="gunicorn processes per web dyno"
    )
    web_connections: int = Field(
        5000,
        ge=1,
        validation_alias="WEB_CONNECTIONS",
        description="open connections (WebSockets included) per gevent web process",
    )
    web_threads: int = Field(128, ge=1, validation_alias="WEB_THREADS", description="threads per `gthread` process")
    graceful_timeout: int = Field(
        10, ge=0, description="seconds a stopping web process has to finish its requests before gunicorn kills it"
    )
    access_log: str = Field("", description="gunicorn's access log (`-`: standard output); empty: none")

    # -- the command line and `hitl-web dev` -------------------------------------------------------
    host: str = Field(
        "127.0.0.1",
        validation_alias="HOST",
        description="the address `hitl-web dev` serves on (`0.0.0.0`: your network too, with `HITL_ALLOWED_HOSTS`)",
    )
    data_dir: Path = Field(
        Path("var"), description="where `hitl-web dev` keeps the embedded Redis's data, its password and the secret key"
    )
    user: str = Field(
        "unknown",
        validation_alias="USER",
        description="who `hitl-web trigger` and `notify` act as without `--as` (`cli:$USER`)",
    )

    def __init__(self, **values: Any) -> None:
        """Defaults, then the environment, then ``values``; a bad value raises SettingsError."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The constructor's values, then the environment: no .env or secrets files (one way to configure)."""
        return init_settings, ListsAsText(settings_cls)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from the environment, then ``overrides`` (one parse per distinct environment and overrides)."""
        for old in DEPRECATED.keys() & os.environ.keys():
            warnings.warn(f"{old} is deprecated: set {DEPRECATED[old]}", DeprecationWarning, stacklevel=2)
        key = (cls, _environment(), tuple(sorted(overrides.items())))
        try:
            hash(key)
        except TypeError:  # an unhashable override (a list): built without the cache
            return cls(**overrides)
        return _cached(key)


def _names(field_name: str) -> list[str]:
    """The variables of a field: its own first, then the deprecated names it still reads."""
    alias = Settings.model_fields[field_name].validation_alias
    return [str(a) for a in alias.choices] if isinstance(alias, AliasChoices) else [str(alias)]


def variable(field_name: str) -> str:
    """The environment variable of a field of Settings (``lease_seconds`` -> ``HITL_LEASE_SECONDS``)."""
    return _names(field_name)[0]


VARIABLES = {name: variable(name) for name in Settings.model_fields}
DEPRECATED = {old: names[0] for names in map(_names, Settings.model_fields) for old in names[1:]}  # old -> new
_FIELD_OF = {**{v: name for name in VARIABLES for v in _names(name)}, **{name: name for name in VARIABLES}}


def _environment() -> tuple[str | None, ...]:
    """The values of every variable Settings reads: what a cached parse is valid for."""
    return tuple(map(os.environ.get, [*VARIABLES.values(), *DEPRECATED]))


@lru_cache(maxsize=64)
def _cached(key: tuple[type[Settings], tuple[str | None, ...], tuple[tuple[str, object], ...]]) -> Settings:
    # ~1 ms a parse: Client(), the example workflow and connect() ask for settings often.
    cls, _environment_values, overrides = key
    return cls(**dict(overrides))


def _describe(exc: ValidationError) -> str:
    """One line per bad value, naming its variable (the value too, unless it is a secret)."""
    problems = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else "settings"
        field = _FIELD_OF.get(name)
        if field is None:  # a value given in code for no field
            problems.append(f"{name}: {_message(error)}")
            continue
        shown = f"={error['input']!r}" if Settings.model_fields[field].repr else ""
        problems.append(f"{VARIABLES[field]}{shown}: {_message(error)}")
    return "invalid settings: " + "; ".join(problems)


def _message(error: ErrorDetails) -> str:
    """Pydantic's message, without the "Value error, " it puts before a validator's own."""
    cause = error.get("ctx", {}).get("error")
    return str(cause) if error["type"] == "value_error" and cause is not None else error["msg"]
