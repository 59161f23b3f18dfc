"""Storage: SQLAlchemy 2 engine, sessions and Alembic migrations (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from integration.crypto import Crypto
from integration.errors import ConfigError
from integration.store import models  # noqa: F401  (registers every table)
from integration.store.base import Base, set_crypto

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use the psycopg 3 driver we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Store:
    """One database: engine, session factory, schema migrations."""

    def __init__(self, url: str, crypto: Crypto | None = None, base_dir: Path | None = None):
        url = normalise_url(url)
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
            rel = Path(url[len("sqlite:///"):])
            if base_dir is not None and not rel.is_absolute():
                rel = base_dir / rel
            rel.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{rel}"
        self.url = url
        self.crypto = crypto
        set_crypto(crypto)
        kwargs: dict = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise ConfigError(f"[database] url {self.safe_url!r} cannot be used: {exc}") from None
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, future=True)

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001
            return "<unparseable url>"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        s = self._sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command

        try:
            command.upgrade(alembic_config(self.url), "head")
        except OperationalError as exc:
            raise ConfigError(f"database {self.safe_url} is not reachable: {exc.orig}") from None

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except SQLAlchemyError:
            return False

    def tables(self) -> list[str]:
        return inspect(self.engine).get_table_names()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # with WAL: a power cut may roll back the newest commits (data and cursors together), never corrupt
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


__all__ = ["Base", "Store", "alembic_config", "normalise_url"]
