"""knowledge base: document passages with their embeddings, and the tokens of each document

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("index_version", sa.String(length=64), nullable=True))
    op.create_table(
        "document_chunks",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_chunks_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", "position", name=op.f("pk_document_chunks")),
    )


def downgrade() -> None:
    op.drop_table("document_chunks")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("index_version")
        batch.drop_column("tokens")
