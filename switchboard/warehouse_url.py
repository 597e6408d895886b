"""Parsing of SWITCHBOARD_WAREHOUSE_URL: the one switch between DuckDB and Postgres."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

# libpq connection options a Postgres URL may carry (?sslmode=verify-full&sslrootcert=...), with the
# environment variable libpq reads each from: dbt's profile has no place for them, its libpq does
LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME",
}
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class WarehouseURL:
    kind: str  # "duckdb" | "postgres"
    duckdb_path: Path | None = None
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    database: str = ""
    options: tuple[tuple[str, str], ...] = ()  # libpq options from the URL's query, sorted

    @property
    def is_duckdb(self) -> bool:
        return self.kind == "duckdb"

    @property
    def _credentials(self) -> str:
        # Re-encode: a password with '@', '/' or ':' would otherwise change the host it points at.
        return f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"

    @property
    def _url_host(self) -> str:
        # An IPv6 address goes in brackets and a Unix-socket folder percent-encoded, as libpq's URL
        # parser reads them (bare, "::1:5432" and "/run/postgresql" break the URL).
        if self.host.startswith("/"):
            return quote(self.host, safe="")
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def _query(self) -> str:
        return f"?{urlencode(self.options)}" if self.options else ""

    def libpq_environment(self) -> dict[str, str]:
        """The URL's options as the environment variables libpq reads them from (for dbt)."""
        return {LIBPQ_OPTIONS[name]: value for name, value in self.options}

    def postgres_dsn(self) -> str:
        """libpq DSN (psycopg2, dlt)."""
        return f"postgresql://{self._credentials}@{self._url_host}:{self.port}/{self.database}{self._query}"

    def redacted(self) -> str:
        if self.is_duckdb:
            return f"duckdb:///{self.duckdb_path}"
        secret = ":***" if self.password else ""  # (no password: nothing to hide, and none to suggest)
        return f"postgresql://{quote(self.user, safe='')}{secret}@{self._url_host}:{self.port}/{self.database}{self._query}"


def parse_warehouse_url(url: str, base_dir: Path) -> WarehouseURL:
    """`duckdb:///abs/or/relative.duckdb` (relative to base_dir, normally the working directory) or
    `postgresql://user:pw@host:port/db[?sslmode=verify-full&sslrootcert=/path&...]`."""
    url = url.strip()
    if url.startswith("duckdb:///"):
        raw = url[len("duckdb:///"):]
        if not raw:
            raise ValueError("duckdb URL needs a file path: duckdb:///data/warehouse.duckdb")
        path = Path(raw)
        if not path.is_absolute():
            # duckdb:///tmp/x.duckdb means /tmp/x.duckdb when /tmp exists; duckdb:///data/x.duckdb with no
            # /data is relative to base_dir. Four slashes (duckdb:////abs) are always absolute.
            first = Path("/") / path.parts[0]
            path = first.joinpath(*path.parts[1:]) if len(path.parts) > 1 and first.is_dir() else (base_dir / path)
        path = path.resolve()
        return WarehouseURL(kind="duckdb", duckdb_path=path)
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg2://")):
        parts = urlsplit(url)
        host = _url_host(parts.netloc)
        if not host or not parts.path.strip("/"):
            raise ValueError("postgres URL needs host and database: postgresql://user:password@host:5432/dbname")
        return WarehouseURL(
            kind="postgres",
            host=host,
            port=parts.port or 5432,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=parts.path.strip("/"),
            options=_libpq_options(parts.query),
        )
    raise ValueError("must start with duckdb:/// or postgresql://")


def _url_host(netloc: str) -> str:
    """The URL's host as libpq takes it: an IPv6 address without its brackets, a Unix-socket folder
    (`%2Frun%2Fpostgresql`) decoded, its case kept (urlsplit's `hostname` lower-cases a path)."""
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else ""
    return unquote(host.partition(":")[0])


def _libpq_options(query: str) -> tuple[tuple[str, str], ...]:
    """The query's libpq options; anything else is an error, not dropped (a dropped sslmode=require
    connected in plain text)."""
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False))
    unknown = sorted(set(options) - set(LIBPQ_OPTIONS))
    if unknown:
        raise ValueError(f"unsupported option(s) {', '.join(unknown)} in the postgres URL; "
                         f"supported: {', '.join(LIBPQ_OPTIONS)}")
    if "sslmode" in options and options["sslmode"] not in SSL_MODES:
        raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}")
    return tuple(sorted(options.items()))
