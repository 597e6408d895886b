"""The one object that reads Switchboard's configuration from the environment (and `.env`).

Everything else receives a `Settings` instance; nothing reads `os.environ` on its own.
A wrong value fails fast with a message that names the variable.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.paths import DEFAULT_DATA_DIR
from switchboard.warehouse_url import WarehouseURL, parse_warehouse_url


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the environment variable."""


# IANA names that a warehouse reads as something else: Postgres takes CET, EET, MET and WET for
# the fixed-offset abbreviations of its own table (pg_timezone_abbrevs), without summer time, so a
# summer day's buckets would be an hour off theirs on DuckDB; DuckDB knows no machine-local zone.
_ZONES_THE_WAREHOUSE_READS_OTHERWISE = {
    **{name: f"Postgres reads this name as a fixed UTC{offset}, without summer time; use a city zone such as {city}"
       for name, offset, city in (("CET", "+1", "Europe/Paris"), ("MET", "+1", "Europe/Paris"),
                                  ("EET", "+2", "Europe/Athens"), ("WET", "+0", "Europe/Lisbon"))},
    **{name: "this machine's zone file, not a zone DuckDB knows; use an IANA name such as America/Bogota"
       for name in ("localtime", "posixrules")},
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    warehouse_url: str = Field(
        default=f"duckdb:///{DEFAULT_DATA_DIR / 'warehouse.duckdb'}",
        alias="SWITCHBOARD_WAREHOUSE_URL",
        description="duckdb:///path/to/file.duckdb (default: data/warehouse.duckdb in the project) or "
                    "postgresql://user:pw@host:port/db",
    )
    serving_path: Path = Field(
        default=DEFAULT_DATA_DIR / "serving.duckdb",
        alias="SWITCHBOARD_SERVING_PATH",
        description="DuckDB file that the final asset publishes for Streamlit and BI tools (atomic replace).",
    )
    landing_dir: str = Field(
        default=str(DEFAULT_DATA_DIR / "landing"),
        alias="SWITCHBOARD_LANDING_DIR",
        description="Where webhook payloads and dropped files will land (local path or fsspec URL); reserved "
                    "for the webhook sources (WhatsApp, Twilio, ElevenLabs): nothing reads it yet.",
    )
    state_dir: Path = Field(
        default=DEFAULT_DATA_DIR / "state",
        alias="SWITCHBOARD_STATE_DIR",
        description="Working files of dlt pipelines (their durable state lives in the warehouse).",
    )
    duckdb_memory_limit: str = Field(
        default="3GB",
        alias="SWITCHBOARD_DUCKDB_MEMORY_LIMIT",
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)$",
        description="DuckDB's memory cap for dbt builds (e.g. 3GB, 8GB, 75%); above it DuckDB spills to disk.",
    )
    dbt_run_folders_kept: int = Field(
        default=20, alias="SWITCHBOARD_DBT_RUN_FOLDERS_KEPT", ge=1,
        description="How many of dbt's per-run folders (compiled SQL, run_results.json, dbt.log; ~17 MB "
        "each) stay in dbt_project/target; each dbt run removes older ones, except any written to in the "
        "last hour.",
    )
    run_history_days: int = Field(
        default=7, alias="SWITCHBOARD_RUN_HISTORY_DAYS", ge=1,
        description="How many days of Dagster's run history (runs, their event logs and captured logs) "
        "the daily prune_run_history job keeps; runs holding an asset's or a check's latest result stay.",
    )
    run_executor: str = Field(
        default="in_process",
        alias="SWITCHBOARD_RUN_EXECUTOR",
        pattern=r"^(in_process|multiprocess)$",
        description="How a Dagster run executes its steps: in_process (one process per run) or "
        "multiprocess (a process per step).",
    )
    dagster_home: Path | None = Field(
        default=None,
        alias="DAGSTER_HOME",
        description="Dagster's instance folder (Dagster's own variable; the UI and the daemon read it too). "
        "Set, `switchboard materialize` keeps its runs there and they show in the UI; unset, a run's history "
        "is thrown away.",
    )
    log_level: str = Field(
        default="INFO",
        alias="SWITCHBOARD_LOG_LEVEL",
        pattern=r"(?i)^(debug|info|warning|error|critical)$",
        description="Lowest level `switchboard materialize` prints of its run (debug adds Dagster's event per "
        "step and dbt node); the run's event log in the Dagster UI keeps every event. Runs the daemon or UI "
        "launch print at dagster.yaml's python_logs.python_log_level (INFO).",
    )
    timezone: str = Field(
        default="America/Bogota",
        alias="SWITCHBOARD_TIMEZONE",
        description="Reporting time zone: daily and 15-minute buckets use queue-entry time in this zone.",
    )
    sl_seconds: int = Field(
        default=20, alias="SWITCHBOARD_SL_SECONDS", ge=0,
        description="Service-level threshold: answered within this many seconds of waiting.",
    )
    short_abandon_seconds: int = Field(
        default=5, alias="SWITCHBOARD_SHORT_ABANDON_SECONDS", ge=0,
        description="Abandons with a wait at or under this are short abandons (excluded from SL).",
    )
    app_number_viewers: str = Field(
        default="",
        alias="SWITCHBOARD_APP_NUMBER_VIEWERS",
        description="Comma-separated e-mails of the app's signed-in users (Streamlit OIDC login) who see "
        "phone numbers in full; `*` for every viewer. Everyone else sees them masked.",
    )
    open_visit_timeout_seconds: int = Field(
        default=86_400, alias="SWITCHBOARD_OPEN_VISIT_TIMEOUT_SECONDS", gt=0,
        description="A queue visit with no exit line whose PBX logged on for longer than this after "
        "its entry lost its exit line: outcome other, not open (still waiting).",
    )
    queue_log_dirs: str = Field(
        default="",
        alias="SWITCHBOARD_QUEUE_LOG_DIRS",
        description="Comma-separated folders or globs holding Asterisk queue_log files; "
        "prefix an entry with NAME= to name its PBX (default: the folder's name). A folder of "
        "PBX folders is read as one PBX per folder.",
    )
    queue_log_db_timezone: str | None = Field(
        default=None,
        alias="SWITCHBOARD_QUEUE_LOG_DB_TIMEZONE",
        description="Time zone of the `time` column in realtime queue_log exports (default: SWITCHBOARD_TIMEZONE).",
    )
    asterisk_cdr_dirs: str = Field(
        default="",
        alias="SWITCHBOARD_ASTERISK_CDR_DIRS",
        description="Comma-separated folders or globs holding Asterisk cdr-csv Master.csv files (NAME= prefix as above).",
    )
    cdr_timezone: str | None = Field(
        default=None,
        alias="SWITCHBOARD_ASTERISK_CDR_TIMEZONE",
        description="Time zone of Master.csv start/answer/end (default: SWITCHBOARD_TIMEZONE).",
    )

    webex_api_base_url: str = Field(
        default="https://webexapis.com/v1",
        alias="WEBEX_API_BASE_URL",
        description="Webex public API base URL (people, locations, access_token).",
    )
    webex_analytics_base_url: str = Field(
        default="https://analytics-calling.webexapis.com/v1",
        alias="WEBEX_ANALYTICS_BASE_URL",
        description="Webex Calling CDR API base URL (cdr_feed, cdr_stream); regional hosts differ "
        "(e.g. analytics-calling-eu); a 451 answer switches to the host it names.",
    )
    webex_client_id: str = Field(
        default="", alias="WEBEX_CLIENT_ID",
        description="OAuth client id of the Webex integration (empty: Webex API not used).",
    )
    webex_client_secret: SecretStr = Field(
        default=SecretStr(""), alias="WEBEX_CLIENT_SECRET",
        description="OAuth client secret of the Webex integration.",
    )
    webex_refresh_token: SecretStr = Field(
        default=SecretStr(""), alias="WEBEX_REFRESH_TOKEN",
        description="The first refresh token (scope spark-admin:calling_cdr_read, people and locations read); "
        "rotated tokens are kept in WEBEX_TOKEN_FILE. Set a new one here after re-authorising.",
    )
    webex_token_file: Path = Field(
        default=DEFAULT_DATA_DIR / "secrets" / "webex_tokens.json",
        alias="WEBEX_TOKEN_FILE",
        description="Where the rotated Webex tokens are kept (written atomically, owner-only 0600).",
    )
    webex_control_hub_dir: str = Field(
        default="", alias="WEBEX_CONTROL_HUB_DIR",
        description="Folder where Control Hub 'Detailed Call History' CSV exports are dropped (.csv, .csv.gz or a "
        ".zip of CSVs; empty: none).",
    )
    webex_rate_window_seconds: float = Field(
        default=60.0, alias="WEBEX_CDR_RATE_WINDOW_SECONDS", gt=0,
        description="Length of the CDR API's rate-limit minute (1 initial + 10 page requests per window); "
        "only a sandbox with a time scale needs another value.",
    )

    @field_validator("timezone", "queue_log_db_timezone", "cdr_timezone")
    @classmethod
    def _known_zone(cls, value: str | None, info: ValidationInfo) -> str | None:
        # The reporting zone cannot be empty; the source zones fall back to it when empty.
        if value or info.field_name == "timezone":
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r} (use an IANA name such as America/Bogota)") from exc
        # (the source zones are applied in Python as files load; the reporting zone in the warehouse's SQL)
        if info.field_name == "timezone" and value in _ZONES_THE_WAREHOUSE_READS_OTHERWISE:
            raise ValueError(_ZONES_THE_WAREHOUSE_READS_OTHERWISE[value])
        if value and value.split("/", 1)[0] in ("posix", "right"):
            # this machine's copies of the zone files (right/: with leap seconds, 27 s off UTC's
            # clock on Postgres), which DuckDB does not know
            raise ValueError(f"{value!r} names one of this machine's copies of the zone files; "
                             f"use the IANA name itself ({value.split('/', 1)[1]!r})")
        return value

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _usable_memory_limit(cls, value: str) -> str:
        # (the pattern admits the forms DuckDB reads; these are the amounts it refuses or cannot run in)
        amount = float(re.match(r"\d+(\.\d+)?", value).group())
        if value.endswith("%") and not 0 < amount <= 100:
            raise ValueError("a share of the machine's memory is a percentage above 0 and at most 100")
        if amount == 0:
            raise ValueError("DuckDB cannot run a query in no memory: give an amount such as 3GB")
        return value

    @field_validator("state_dir", "webex_token_file", mode="before")
    @classmethod
    def _not_empty_path(cls, value: object) -> object:
        # an empty value read as a path is the working directory, which is no file and no
        # working folder of its own
        if isinstance(value, str) and not value.strip():
            raise ValueError("must be a path, not empty (unset it for the default)")
        return value

    @field_validator("webex_token_file")
    @classmethod
    def _token_file_not_a_folder(cls, value: Path) -> Path:
        if value.is_dir():
            raise ValueError("is a folder: give the path of the file the rotated tokens are kept in")
        return value

    @field_validator("dagster_home", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        # DAGSTER_HOME= (empty) is unset, as Dagster reads it, not the working directory
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("warehouse_url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        parse_warehouse_url(value, base_dir=Path.cwd())
        return value

    @cached_property
    def warehouse(self) -> WarehouseURL:
        return parse_warehouse_url(self.warehouse_url, base_dir=Path.cwd())

    @property
    def queue_log_db_zone(self) -> str:
        return self.queue_log_db_timezone or self.timezone

    @property
    def cdr_zone(self) -> str:
        return self.cdr_timezone or self.timezone

    def may_see_numbers(self, viewer_email: str | None) -> bool:
        """Whether a viewer of the app (their e-mail when signed in, else None) sees phone numbers
        in full (SWITCHBOARD_APP_NUMBER_VIEWERS)."""
        allowed = {e.strip().lower() for e in self.app_number_viewers.split(",") if e.strip()}
        return "*" in allowed or (viewer_email is not None and viewer_email.strip().lower() in allowed)

    @property
    def webex_api_configured(self) -> bool:
        """True when the Webex API credentials are set; raises SettingsError naming what is missing
        when only some are (Webex is optional: none set means no Webex API)."""
        values = {
            "WEBEX_CLIENT_ID": self.webex_client_id.strip(),
            "WEBEX_CLIENT_SECRET": self.webex_client_secret.get_secret_value().strip(),
        }
        if not any(values.values()):
            return False
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise SettingsError(f"{', '.join(missing)} must be set too when Webex is configured "
                                "(or unset every WEBEX_CLIENT_* to run without the Webex API)")
        if not self.webex_refresh_token.get_secret_value().strip() and not self.webex_token_file.exists():
            raise SettingsError(f"WEBEX_REFRESH_TOKEN is empty and no rotated token is stored in "
                                f"WEBEX_TOKEN_FILE ({self.webex_token_file}): set WEBEX_REFRESH_TOKEN to the refresh "
                                "token of the authorised Webex integration")
        for name, url in (("WEBEX_API_BASE_URL", self.webex_api_base_url),
                          ("WEBEX_ANALYTICS_BASE_URL", self.webex_analytics_base_url)):
            if not url.startswith(("https://", "http://")):
                raise SettingsError(f"{name} must be an http(s) URL, got {url!r}")
        return True

    def dbt_vars(self) -> dict[str, object]:
        """Metric definitions handed to dbt, so SQL and Python share one source of truth."""
        return {
            "reporting_timezone": self.timezone,
            "sl_seconds": self.sl_seconds,
            "short_abandon_seconds": self.short_abandon_seconds,
            "open_visit_timeout_seconds": self.open_visit_timeout_seconds,
        }


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise SettingsError naming the bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = err["loc"][0] if err["loc"] else "?"
            info = Settings.model_fields.get(str(field))
            name = info.alias if info and info.alias else str(field)
            given = os.environ.get(name, err.get("input"))
            shown = "a value, not shown" if info is not None and info.annotation is SecretStr else repr(_without_password(given))
            problems.append(f"{name}: {_without_password(err['msg'].removeprefix('Value error, '))} (got {shown})")
        raise SettingsError("invalid Switchboard configuration:\n  " + "\n  ".join(problems)) from None


# a secret given as a URL's query parameter or a libpq keyword (`?password=…`, `sslpassword=…`)
_SECRET_PARAMETER = re.compile(r"((?:^|[?&;\s])[\w-]*(?:password|passwd|secret|token)[\w-]*=)[^&;\s'\"]*", re.I)


def _without_password(value: object) -> object:
    """A value echoed in an error with the password of any URL in it masked (in its user part or
    as a query parameter): a mistyped warehouse URL must not put the database password into the
    code server's and the daemon's logs."""
    if not isinstance(value, str):
        return value
    # (a key may be percent-encoded, `pass%77ord=`: judged decoded; a password may hold a space)
    return _SECRET_PARAMETER.sub(r"\1***", re.sub(r"(://[^/@:\s]*:)[^/]*@", r"\1***@", unquote(value)))


def setting_docs() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, the defaults as the code has them:
    the paths under the project absolute (they do not depend on the working directory, unlike a
    relative path given in the environment)."""
    return [(info.alias or "", "" if info.default is None else str(info.default), info.description or "")
            for info in Settings.model_fields.values()]
