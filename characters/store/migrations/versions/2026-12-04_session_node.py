"""session node: the server process that runs a live call

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("realtime_sessions") as batch:
        batch.add_column(sa.Column("node", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("realtime_sessions") as batch:
        batch.drop_column("node")
