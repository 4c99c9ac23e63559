"""The ERP round trip: which approved allocations were handed to the ERP, and which it booked.

An allocation approved here reaches the ERP once, in a numbered export batch
(``slackbot export allocations --new``); the ERP says what it booked (``slackbot import
applied``). A reversal of an allocation the ERP may hold is handed over and acknowledged the same
way. One row per allocation keeps all four facts, so "what the ERP has booked of this invoice"
is one indexed join: acknowledged, and its reversal not acknowledged.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.tables import Base

ERP_REFERENCE = String(128)


class ErpBatch(Base):
    """One ``export allocations --new``: what it handed over, re-printable with ``--batch``."""

    __tablename__ = "erp_batches"

    batch_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(64))
    allocations: Mapped[int] = mapped_column(Integer)
    reversals: Mapped[int] = mapped_column(Integer)


class ErpAllocation(Base):
    """An allocation as the ERP knows it: handed over (batch), booked (acknowledged), and the
    same two for its reversal."""

    __tablename__ = "erp_allocations"
    __table_args__ = (
        # A reversal is only ever handed over or booked for an allocation the ERP may hold.
        CheckConstraint(
            "reversal_batch_id IS NULL OR batch_id IS NOT NULL OR acknowledged_at IS NOT NULL",
            name="reversal_of_held",
        ),
        CheckConstraint(
            "reversal_acknowledged_at IS NULL OR acknowledged_at IS NOT NULL",
            name="reversal_booked_after_allocation",
        ),
        Index("ix_erp_allocations_batch", "batch_id"),
        Index("ix_erp_allocations_reversal_batch", "reversal_batch_id"),
    )

    allocation_id: Mapped[int] = mapped_column(
        ForeignKey("allocations.allocation_id"), primary_key=True
    )
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("erp_batches.batch_id"), nullable=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    erp_reference: Mapped[str | None] = mapped_column(ERP_REFERENCE, nullable=True)
    reversal_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("erp_batches.batch_id"), nullable=True
    )
    reversal_acknowledged_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    reversal_erp_reference: Mapped[str | None] = mapped_column(ERP_REFERENCE, nullable=True)
