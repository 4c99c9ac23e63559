"""Throughput: approvals per second with concurrent approvers, and the outbox's drain rate.

Approvals: ``approvers`` threads click Approve on distinct pending requests as fast as the bot
answers, spread over one or more `slackbot serve` processes on the same ledger; the rate counts
requests the ledger shows approved (the bot acks a click before it posts, so answers alone would
overstate it). Drain: requests are approved through the ledger with no bot running, then a bot
starts and the rate at which the stand-in Slack receives the owed messages is measured, at the
channel pace given (1 s is Slack's per-channel limit; 0 shows the sender's own ceiling).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.latency import Requests, post
from bench.processes import Served, start_bot
from bench.seed import BILLING_CHANNEL, SUBJECTS, settle_outbox, top_up_pending
from models.enums import AllocationStatus
from models.schemas import Actor
from models.tables import Allocation, OutboxMessage
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.ledger.books import check_books
from tests.support.slack_stub import FakeSlack

SENT_METHODS = ("chat.postMessage", "chat.update")


@dataclass(frozen=True)
class ThroughputConfig:
    approvers: int = 8
    clicks: int = 1600
    processes: tuple[int, ...] = (1, 2, 4)
    drain_messages: int = 300
    drain_window: float = 10.0
    settle_timeout: float = 120.0


def _pending_between(db: Database, low: int, high: int) -> tuple[int, int, dt.datetime | None]:
    """(pending, approved, last decision) among the benchmark's requests with ids in [low, high]."""
    mine = (
        Allocation.partner_id == SUBJECTS.approve_partner,
        Allocation.allocation_id.between(low, high),
    )
    with db.transaction(read_only=True) as session:
        rows = dict(
            session.execute(
                select(Allocation.status, func.count()).where(*mine).group_by(Allocation.status)
            ).all()
        )
        last = session.scalar(
            select(func.max(Allocation.decided_at)).where(
                *mine, Allocation.status == AllocationStatus.APPROVED
            )
        )
    # MAX keeps the column's type (models.tables.UTCDateTime), so it reads back aware UTC.
    pending, approved = AllocationStatus.PENDING, AllocationStatus.APPROVED
    return int(rows.get(pending, 0)), int(rows.get(approved, 0)), last


def _start_bots(
    url: str, slack: FakeSlack, count: int, workdir: Path, pace: float | None, tag: str
) -> list[Served]:
    bots: list[Served] = []
    try:
        for n in range(count):
            bots.append(
                start_bot(
                    f"bot-{tag}-{n}",
                    url,
                    slack,
                    billing_channel=BILLING_CHANNEL,
                    approvers=SUBJECTS.approvers,
                    pace_seconds=pace,
                    workdir=workdir,
                )
            )
    except Exception:
        for bot in bots:
            bot.stop()
        raise
    return bots


def measure_approvals(
    url: str, slack: FakeSlack, config: ThroughputConfig, *, processes: int, workdir: Path
) -> dict[str, Any]:
    db = Database(url)
    settle_outbox(db)
    ids = top_up_pending(db, config.clicks)[: config.clicks]
    low, high = ids[0], ids[-1]
    bots = _start_bots(url, slack, processes, workdir, None, f"tp{processes}")
    run = f"tp-{processes}-{time.monotonic_ns()}"
    requests = Requests(db, slack, SUBJECTS, run=run)
    queue = deque(ids)
    lock = threading.Lock()
    http_errors = 0
    answered: list[float] = []

    def approver(n: int) -> None:
        nonlocal http_errors
        user = SUBJECTS.approvers[n % len(SUBJECTS.approvers)]
        target = bots[n % len(bots)]
        while True:
            with lock:
                if not queue:
                    return
                allocation_id = queue.popleft()
            status, _, took = post(target.base_url, requests.approve(user, allocation_id))
            with lock:
                answered.append(took)
                if status != 200:
                    http_errors += 1

    def refused() -> int:
        return sum(1 for call in slack.calls_to("response_url") if f"/{run}-" in call.path)

    cpu_before = [bot.cpu_seconds() or 0.0 for bot in bots]
    began_at = dt.datetime.now(dt.UTC)
    began = time.perf_counter()
    threads = [threading.Thread(target=approver, args=(n,)) for n in range(config.approvers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clicked = time.perf_counter() - began
    deadline = time.perf_counter() + config.settle_timeout
    pending, approved, last = _pending_between(db, low, high)
    # A refused click leaves its request pending for good: stop waiting once only those remain.
    while pending > refused() and time.perf_counter() < deadline:
        time.sleep(0.01)
        pending, approved, last = _pending_between(db, low, high)
    # Until the last posting committed, by the ledger's own clock (the same machine's).
    seconds = (last - began_at).total_seconds() if last is not None else time.perf_counter() - began
    cpu = sum(
        (bot.cpu_seconds() or 0.0) - before for bot, before in zip(bots, cpu_before, strict=True)
    )
    rss = [bot.rss_mb() for bot in bots]
    for bot in bots:
        bot.stop()
    refusals = refused()
    refusal_texts = [
        str(call.params.get("text") or "")[:200]
        for call in slack.calls_to("response_url")
        if f"/{run}-" in call.path
    ][:3]
    problems = check_books(db)
    db.dispose()
    return {
        "processes": processes,
        "approvers": config.approvers,
        "clicks": len(ids),
        "approved": approved,
        "still_pending": pending,
        "refused": refusals,
        "refusal_texts": refusal_texts,
        "http_errors": http_errors,
        "seconds": seconds,
        "clicking_seconds": clicked,
        "approvals_per_second": approved / seconds if seconds else 0.0,
        "bot_cpu_seconds": cpu,
        "bot_rss_mb": rss,
        "books_check": problems,
    }


def _rate(times: list[float]) -> float:
    if len(times) < 2:
        return 0.0
    span = max(times) - min(times)
    return (len(times) - 1) / span if span > 0 else 0.0


def _unsent(db: Database) -> int:
    with db.transaction(read_only=True) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
            )
            or 0
        )


def measure_drain(
    url: str, slack: FakeSlack, config: ThroughputConfig, *, pace: float, workdir: Path
) -> dict[str, Any]:
    db = Database(url)
    settle_outbox(db)
    ids = top_up_pending(db, config.drain_messages)[: config.drain_messages]
    ledger = Ledger(db)
    approver = Actor(user_id=SUBJECTS.approvers[0], can_approve=True)
    for allocation_id in ids:
        ledger.approve(allocation_id, approver)
    owed = _unsent(db)
    mark = len(slack.calls)
    bots = _start_bots(url, slack, 1, workdir, pace, f"drain{pace:g}")
    began = time.perf_counter()
    # At a pace, a burst drains at the pace by design: watch a window. Unpaced, wait it out.
    window = config.drain_window if pace > 0 else config.settle_timeout
    unsent = owed
    while unsent and time.perf_counter() - began < window:
        time.sleep(0.05)
        unsent = _unsent(db)
    seconds = time.perf_counter() - began
    bots[0].stop()
    delivered = [c for c in slack.calls[mark:] if c.delivered and c.method in SENT_METHODS]
    billing = [c.at for c in delivered if c.channel == BILLING_CHANNEL]
    settle_outbox(db)
    db.dispose()
    return {
        "pace_seconds": pace,
        "pace_allows": f"{1 / pace:.2f} msg/s" if pace > 0 else "no limit",
        "owed": owed,
        "delivered": len(delivered),
        "unsent_after": unsent,
        "seconds": seconds,
        "messages_per_second": _rate([c.at for c in delivered]),
        "billing_per_second": _rate(billing),
    }
