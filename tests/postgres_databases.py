"""Databases on the tests' PostgreSQL server (conftest's `postgres_server`)."""

from __future__ import annotations


def create_database(server: dict, name: str, options: str = "") -> dict[str, object]:
    """A new, empty database `name` (dropped first if a test left one); `options` are `create
    database`'s (a locale, a collation provider). Returns psycopg2's connection arguments for it."""
    import psycopg2

    connection = {k: server[k] for k in ("host", "port", "user")}
    admin = psycopg2.connect(**connection, dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}"')
            cur.execute(f'create database "{name}" {options}'.rstrip())
    finally:
        admin.close()
    return {**connection, "dbname": name}
