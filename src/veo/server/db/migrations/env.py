"""Alembic environment: runs the veo migrations on the URL handed over by ``veo.server.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import veo.server.db.models as models
from veo.server.db.engine import connect_args

config = context.config
url: str = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or ""


def run_offline() -> None:
    context.configure(url=url, target_metadata=models.Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=connect_args(url))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=models.Base.metadata,
            # SQLite cannot ALTER most things: batch mode recreates the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
