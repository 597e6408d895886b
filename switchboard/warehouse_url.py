"""Parsing of SWITCHBOARD_WAREHOUSE_URL: the one switch between DuckDB and Postgres."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit


@dataclass(frozen=True)
class WarehouseURL:
    kind: str  # "duckdb" | "postgres"
    duckdb_path: Path | None = None
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    database: str = ""

    @property
    def is_duckdb(self) -> bool:
        return self.kind == "duckdb"

    @property
    def _credentials(self) -> str:
        # Re-encode: a password with '@', '/' or ':' would otherwise change the host it points at.
        return f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"

    def postgres_dsn(self) -> str:
        """libpq DSN (psycopg2, dlt)."""
        return f"postgresql://{self._credentials}@{self.host}:{self.port}/{self.database}"

    def sqlalchemy_url(self) -> str:
        # SQLAlchemy 2.1 maps bare postgresql:// to psycopg 3, which is not installed.
        if self.is_duckdb:
            return f"duckdb:///{self.duckdb_path}"
        return f"postgresql+psycopg2://{self._credentials}@{self.host}:{self.port}/{self.database}"

    def redacted(self) -> str:
        if self.is_duckdb:
            return f"duckdb:///{self.duckdb_path}"
        return f"postgresql://{quote(self.user, safe='')}:***@{self.host}:{self.port}/{self.database}"


def parse_warehouse_url(url: str, base_dir: Path) -> WarehouseURL:
    """`duckdb:///abs/or/relative.duckdb` (relative to base_dir, normally the working directory) or `postgresql://user:pw@host:port/db`."""
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
        if not parts.hostname or not parts.path.strip("/"):
            raise ValueError("postgres URL needs host and database: postgresql://user:password@host:5432/dbname")
        return WarehouseURL(
            kind="postgres",
            host=parts.hostname,
            port=parts.port or 5432,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=parts.path.strip("/"),
        )
    raise ValueError("must start with duckdb:/// or postgresql://")
