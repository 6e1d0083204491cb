"""Alembic environment: runs on the connection that ``Database.migrate`` hands over."""

from alembic import context

from characters.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `characters serve` or `characters db upgrade`")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
