"""Stress: many partners and approvers against the real HTTP server, with Slack failing often.

Runs the bot (the real Bolt app on waitress, with its outbox sender, Home publisher and
reminders) against the stand-in Slack Web API of the test suite, which fails a chosen share of
calls (500, 429 with Retry-After, timeouts, dropped connections, and posts Slack took whose
answer was lost). Simulated partners list payments, open the allocation modal, type into the
invoice type-ahead and submit (sometimes with bad amounts), read their history and cancel;
simulated approvers approve, reject with a reason, and double-click; both open their App Home
now and then, and requests left waiting are reminded and escalated (business time around the
clock, seconds long, so a short run sees them). About a third of the submissions are requests
of 2-5 lines built from the partner's open invoices (issue 11), some deliberately over an
invoice's or the payment's room so the ledger refuses them by line. Then it waits for the
outbox to drain and audits the ledger and every message Slack received, counting messages per
request (one billing message and one receipt whatever its line count).

    python bench/stress.py --operations 10000 --fault-rate 0.2
    python bench/stress.py --database-url postgresql://postgres@127.0.0.1:5432/test

Exit status 0 only when nothing was lost, nothing doubled, no 5xx, and the books balance.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import itertools
import json
import logging
import random
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from slack_sdk import WebClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from waitress.server import create_server  # noqa: E402

from bench.home_check import stale_homes  # noqa: E402
from models.enums import AllocationStatus, Audience, OutboxKind  # noqa: E402
from models.home_refresh import HomeRefresh  # noqa: E402
from models.tables import (  # noqa: E402
    Allocation,
    Invoice,
    OutboxMessage,
    Partner,
    PartnerMember,
    Payment,
    SlackMessageRef,
)
from slackbot.app import build_bot  # noqa: E402
from slackbot.business_time import BusinessCalendar, ReminderRules  # noqa: E402
from slackbot.db import Database  # noqa: E402
from slackbot.ledger.books import check_books  # noqa: E402
from slackbot.migrate import upgrade  # noqa: E402
from slackbot.outbox.reminder_loop import ReminderLoop  # noqa: E402
from slackbot.server import make_wsgi_app  # noqa: E402
from slackbot.settings import Settings  # noqa: E402
from slackbot.slack import views  # noqa: E402
from slackbot.slack.sender import RetryPolicy  # noqa: E402
from tests.support import home_payloads  # noqa: E402
from tests.support import slack_payloads as payloads  # noqa: E402
from tests.support.slack_stub import FakeSlack  # noqa: E402

SECRET = "stress-signing-secret"
BILLING_CHANNEL = "C0STRESS"
# Web API methods the stand-in fails at the chosen rate. auth.test is left alone (the app calls
# it once at start), and response_url replies go to a different Slack service.
FAULTED_METHODS = (
    "chat.postMessage",
    "chat.update",
    "views.open",
    "views.update",
    "views.publish",
    "usergroups.users.list",
)
ALLOCATION_REF = re.compile(r"#(\d+)\b")
# The share of modal submissions that are requests of several lines.
MULTI_LINE_SHARE = 1 / 3
MULTI_LINE_SIZES = (2, 3, 4, 5)
# Amounts a line may carry: seeded invoices are 3,000.00 and payments 5,000.00, so "3000.01"
# exceeds any invoice and two lines of "2999.00" exceed any payment.
OVER_INVOICE = "3000.01"
OVER_PAYMENT = "2999.00"


@dataclass
class StressConfig:
    operations: int = 10_000
    partners: int = 24
    approvers: int = 4
    concurrency: int = 16
    fault_rate: float = 0.2
    seed: int = 1
    database_url: str | None = None
    pace_seconds: float = 0.002
    drain_timeout: float = 300.0
    # Seconds a request waits before its reminder, and before its escalation (business time
    # around the clock): short, so requests left waiting during the run are chased in it.
    remind_after: float = 2.0
    escalate_after: float = 5.0
    home_share: float = 0.05


@dataclass
class Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    by_kind: collections.Counter[str] = field(default_factory=collections.Counter)
    modal_not_opened: int = 0
    modal_not_opened_told: int = 0
    submissions_accepted: int = 0
    submissions_refused: int = 0
    multi_line_accepted: int = 0
    multi_line_refused: int = 0
    tracebacks_seen: int = 0
    home_opens: int = 0

    def record(self, kind: str, status: int, body: str) -> None:
        with self.lock:
            self.sent += 1
            self.statuses[status] += 1
            self.by_kind[kind] += 1
            if "Traceback" in body:
                self.tracebacks_seen += 1


class Simulation:
    def __init__(self, config: StressConfig) -> None:
        self.config = config
        self.random = random.Random(config.seed)
        self.counters = Counters()
        self._ops = itertools.count()
        self._tmp = tempfile.TemporaryDirectory(prefix="slackbot-stress-")
        url = config.database_url or f"sqlite:///{Path(self._tmp.name) / 'stress.db'}"
        self.database_url = url
        self._drop_database: Any = None
        if config.database_url and config.database_url.startswith("postgres"):
            self.database_url, self._drop_database = _fresh_postgres(config.database_url)
        upgrade(self.database_url)
        self.db = Database(self.database_url)
        self.slack = FakeSlack(timeout_sleep=1.5).start()
        self.partners = [f"P{n:03d}" for n in range(config.partners)]
        self.members = {partner: f"U0M{partner}" for partner in self.partners}
        self.approver_ids = [f"U0APPR{n}" for n in range(config.approvers)]
        self._seed()
        settings = Settings(
            DATABASE_URL=self.database_url,
            SLACK_BOT_TOKEN="xoxb-stress",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=self.slack.api_url,
            BILLING_CHANNEL_ID=BILLING_CHANNEL,
            BILLING_APPROVER_IDS=",".join(self.approver_ids),
            BILLING_CHANNEL_PACE_SECONDS=config.pace_seconds,
        )
        retry = RetryPolicy(base_seconds=0.05, cap_seconds=1.0, configuration_cap_seconds=1.0)
        self.bot = build_bot(settings, db=self.db, retry=retry)
        # Reminders on a clock that never closes, in seconds, looked for every half second.
        always_open = BusinessCalendar(opens=0, closes=24 * 60, days=frozenset(range(7)), tz=dt.UTC)
        self.bot.reminders = ReminderLoop(
            self.db,
            ReminderRules(
                calendar=always_open,
                remind_after=dt.timedelta(seconds=config.remind_after),
                escalate_after=dt.timedelta(seconds=config.escalate_after),
            ),
            clock=self.bot.ledger.clock,
            wake=self.bot.delivery.wake,
            interval=0.5,
        )
        # A short sender timeout: a Slack call that hangs is given up on and retried quickly.
        self.bot.delivery.client = WebClient(
            token="xoxb-stress", base_url=self.slack.api_url, timeout=1, retry_handlers=[]
        )
        self.server = create_server(
            make_wsgi_app(self.bot), host="127.0.0.1", port=0, threads=16, ident="stress"
        )
        self.base_url = f"http://127.0.0.1:{self.server.effective_port}"
        threading.Thread(target=self.server.run, daemon=True).start()
        self.bot.start()  # the outbox's senders, the Home publisher, the reminders
        self.slack.set_fault_rate(
            config.fault_rate,
            kinds=("500", "429", "timeout", "disconnect"),
            seed=config.seed,
            methods=FAULTED_METHODS,
        )
        # Issue 14: Slack takes the post and its answer is lost; the sender must find it, not
        # post it again (a lost chat.update answer is harmless: the same edit twice is one).
        self.slack.lose_first_answers(
            ("chat.postMessage",), rate=config.fault_rate, seed=config.seed + 1
        )

    # ------------------------------------------------------------------ data

    def _seed(self) -> None:
        received = dt.date(2026, 11, 1)
        with self.db.transaction() as session:
            for n, partner in enumerate(self.partners):
                session.add(Partner(partner_id=partner, name=f"Partner {n} Ltd."))
            session.flush()
            for partner, member in self.members.items():
                session.add(PartnerMember(partner_id=partner, slack_user_id=member))
                for k in range(6):
                    session.add(
                        Payment(
                            payment_id=f"PAY-{partner}-{k}",
                            partner_id=partner,
                            currency="USD",
                            exponent=2,
                            amount=500_000,
                            allocated=0,
                            pending=0,
                            received_on=received,
                            reference=f"wire {k} for INV-{partner}-{k}",
                        )
                    )
                for k in range(12):
                    session.add(
                        Invoice(
                            invoice_id=f"INV-{partner}-{k}",
                            partner_id=partner,
                            currency="USD",
                            exponent=2,
                            amount=300_000,
                            opening_due=300_000,
                            applied=0,
                            pending=0,
                            issued_on=received,
                            due_on=received + dt.timedelta(days=30 + k),
                        )
                    )

    # ------------------------------------------------------------- requests

    def _take(self) -> bool:
        return next(self._ops) < self.config.operations

    def _post(self, kind: str, body: str) -> tuple[int, str]:
        try:
            status, _headers, text = payloads.post_signed(
                self.base_url, body, secret=SECRET, timeout=15
            )
        except OSError as exc:
            status, text = 599, f"connection failed: {exc}"
        self.counters.record(kind, status, text)
        return status, text

    def partner(self, member: str, partner: str, rng: random.Random) -> None:
        while self._take():
            roll = rng.random()
            if rng.random() < self.config.home_share:
                self._open_home(member)
            elif roll < 0.15:
                self._post("list", payloads.slash_command(member, "", response_url=self._url()))
            elif roll < 0.22:
                self._post(
                    "history", payloads.slash_command(member, "history", response_url=self._url())
                )
            elif roll < 0.30:
                self._cancel_one(member, rng)
            else:
                self._allocate(member, partner, rng)

    def _url(self) -> str:
        return self.slack.response_url(f"r{random.getrandbits(48)}")

    def _allocate(self, member: str, partner: str, rng: random.Random) -> None:
        payment = f"PAY-{partner}-{rng.randrange(6)}"
        trigger = payloads.new_trigger_id()
        response_url = self._url()
        status, _ = self._post(
            "slash allocate",
            payloads.slash_command(
                member, f"allocate {payment}", response_url=response_url, trigger_id=trigger
            ),
        )
        if status != 200:
            return
        # The modal opens, or the person is told it could not (within Slack's 3 s, plus slack).
        _wait(lambda: self.slack.view_opened_by(trigger) or self._replied(response_url), 8.0)
        view = self.slack.view_opened_by(trigger)
        if view is None:
            with self.counters.lock:
                self.counters.modal_not_opened += 1
            if self._replied(response_url):
                with self.counters.lock:
                    self.counters.modal_not_opened_told += 1
            return
        if not self._take():
            return
        chosen = {"payment": {"payment": payloads.static_select_value(payment, payment)}}
        status, text = self._post(
            "options load",
            payloads.block_suggestion(member, "invoice", "", view=view, state_values=chosen),
        )
        options = re.findall(r'"value":\s*"(INV-[^"]+)"', text) if status == 200 else []
        if rng.random() < MULTI_LINE_SHARE:
            self._submit_lines(member, partner, view, chosen, options, rng)
            return
        invoice = rng.choice(options) if options else f"INV-{partner}-0"
        amount = rng.choice(["12.50", "40.00", "99.99", "5.01", "1.00", "abc", "999999.00"])
        if not self._take():
            return
        values = {
            **chosen,
            "invoice": {"invoice": payloads.external_select_value(invoice, invoice)},
            "amount": {"amount": payloads.text_value(amount)},
            "note": {"note": payloads.text_value("stress")},
        }
        status, text = self._post("submit", payloads.view_submission(member, view, values))
        with self.counters.lock:
            if '"update"' in text:
                self.counters.submissions_accepted += 1
            else:
                self.counters.submissions_refused += 1

    def _submit_lines(
        self,
        member: str,
        partner: str,
        view: dict[str, Any],
        chosen: dict[str, dict[str, Any]],
        options: list[str],
        rng: random.Random,
    ) -> None:
        """Submit the modal as a request of 2-5 lines (``invoice_N``/``amount_N`` after line 1,
        the extra slots named in private_metadata as the modal remembers them)."""
        if not self._take():
            return
        pool = list(dict.fromkeys(options)) or [f"INV-{partner}-{k}" for k in range(12)]
        if len(pool) < 2:
            pool += [f"INV-{partner}-{k}" for k in range(12) if f"INV-{partner}-{k}" not in pool]
        size = min(rng.choice(MULTI_LINE_SIZES), len(pool))
        invoices = rng.sample(pool, size)
        amounts = [rng.choice(["12.50", "40.00", "99.99", "5.01", "1.00"]) for _ in invoices]
        roll = rng.random()
        if roll < 0.15:
            amounts[rng.randrange(size)] = OVER_INVOICE  # one line over its invoice's room
        elif roll < 0.30:
            amounts = [OVER_PAYMENT] * size  # the total over the payment's room
        elif roll < 0.35:
            amounts[rng.randrange(size)] = "abc"  # one line unreadable
        line_one = next(
            (
                str(b["block_id"])
                for b in view.get("blocks", [])
                if str(b.get("block_id", "")).split(":")[0] == "amount"
            ),
            "amount",
        )
        values: dict[str, dict[str, Any]] = {
            **chosen,
            "invoice": {"invoice": payloads.external_select_value(invoices[0], invoices[0])},
            line_one: {"amount": payloads.text_value(amounts[0])},
            "note": {"note": payloads.text_value("stress remittance")},
        }
        for slot, (invoice, amount) in enumerate(
            zip(invoices[1:], amounts[1:], strict=True), start=2
        ):
            values[f"invoice_{slot}"] = {
                f"invoice_{slot}": payloads.external_select_value(invoice, invoice)
            }
            values[f"amount_{slot}"] = {f"amount_{slot}": payloads.text_value(amount)}
        metadata = json.dumps({"lines": list(range(2, size + 1))}, separators=(",", ":"))
        _status, text = self._post(
            "submit lines",
            payloads.view_submission(member, view, values, private_metadata=metadata),
        )
        with self.counters.lock:
            if '"update"' in text:
                self.counters.submissions_accepted += 1
                self.counters.multi_line_accepted += 1
            else:
                self.counters.submissions_refused += 1
                self.counters.multi_line_refused += 1

    def _replied(self, response_url: str) -> bool:
        name = response_url.rsplit("/", 1)[-1]
        return any(call.path.endswith(name) for call in self.slack.calls_to("response_url"))

    def _cancel_one(self, member: str, rng: random.Random) -> None:
        with self.db.transaction(read_only=True) as session:
            ids = session.scalars(
                select(Allocation.request_id)
                .where(Allocation.requested_by == member, Allocation.status == "pending")
                .distinct()
                .limit(5)
            ).all()
        allocation_id = rng.choice(ids) if ids else 10**9
        self._post(
            "cancel",
            payloads.block_actions(
                member,
                f"cancel_allocation:{allocation_id}",
                str(allocation_id),
                channel_id="D0STRESS",
                response_url=self._url(),
            ),
        )

    def approver(self, approver: str, rng: random.Random) -> None:
        while self._take():
            with self.db.transaction(read_only=True) as session:
                # One pick per request; a request's later line is as good a handle as its first
                # (old buttons carry one), so now and then the click names a later line.
                rows = session.execute(
                    select(Allocation.request_id, func.max(Allocation.allocation_id))
                    .where(Allocation.status == "pending")
                    .group_by(Allocation.request_id)
                    .order_by(Allocation.request_id)
                    .limit(20)
                ).all()
            ids = [last if rng.random() < 0.2 else first for first, last in rows]
            # Half the time the approver turns to a remittance first (several lines), so even a
            # short run decides some of them whole.
            several = [
                last if rng.random() < 0.2 else first for first, last in rows if last > first
            ]
            if several and rng.random() < 0.5:
                ids = several
            if not ids:
                self._post(
                    "approver list", payloads.slash_command(approver, "", response_url=self._url())
                )
                time.sleep(0.05)
                continue
            allocation_id = rng.choice(ids)
            roll = rng.random()
            if rng.random() < self.config.home_share:
                self._open_home(approver)
            elif roll < 0.7:
                clicks = 2 if roll < 0.1 else 1  # a double click
                for _ in range(clicks):
                    self._click(approver, "approve_allocation", allocation_id)
            else:
                self._reject(approver, allocation_id)

    def _click(
        self, user: str, action: str, allocation_id: int, trigger: str | None = None
    ) -> None:
        self._post(
            action,
            payloads.block_actions(
                user,
                f"{action}:{allocation_id}",
                str(allocation_id),
                channel_id=BILLING_CHANNEL,
                response_url=self._url(),
                trigger_id=trigger,
            ),
        )

    def _open_home(self, user: str) -> None:
        """The person opens the app's Home tab (a signed ``app_home_opened`` event)."""
        self._post("home opened", home_payloads.app_home_opened(user))
        with self.counters.lock:
            self.counters.home_opens += 1

    def _reject(self, approver: str, allocation_id: int) -> None:
        trigger = payloads.new_trigger_id()
        self._click(approver, "reject_allocation", allocation_id, trigger)
        view = _wait(lambda: self.slack.view_opened_by(trigger), 6.0)
        if view is None or not self._take():
            return
        values = {"reason": {"reason": payloads.text_value("Stress test says no")}}
        self._post("reject submit", payloads.view_submission(approver, view, values))

    # ------------------------------------------------------------------ run

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        threads = []
        partner_threads = max(1, self.config.concurrency - self.config.approvers)
        for n in range(partner_threads):
            partner = self.partners[n % len(self.partners)]
            rng = random.Random(self.config.seed * 1000 + n)
            threads.append(
                threading.Thread(target=self.partner, args=(self.members[partner], partner, rng))
            )
        for n, approver in enumerate(self.approver_ids[: self.config.approvers]):
            rng = random.Random(self.config.seed * 7000 + n)
            threads.append(threading.Thread(target=self.approver, args=(approver, rng)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        load_seconds = time.monotonic() - started
        # Slack recovers: the outbox must now drain completely.
        self.slack.set_fault_rate(0.0)
        self.slack.lose_first_answers(())
        # Reminders stop first (a reminder decided during the drain would be owed after it).
        if self.bot.reminders is not None:
            self.bot.reminders.stop()
        drained = _wait(
            lambda: self.bot.delivery.pending_count() == 0 and self._homes_due() == 0,
            self.config.drain_timeout,
        )
        drain_seconds = time.monotonic() - started - load_seconds
        report = self.audit()
        report.update(load_seconds=load_seconds, drain_seconds=drain_seconds, drained=bool(drained))
        return report

    def audit(self) -> dict[str, Any]:
        with self.db.transaction(read_only=True) as session:
            statuses = dict(
                session.execute(
                    select(Allocation.status, func.count()).group_by(Allocation.status)
                ).all()
            )
            request_sizes = session.execute(
                select(Allocation.request_id, func.count(), func.min(Allocation.status)).group_by(
                    Allocation.request_id
                )
            ).all()
            owed_rows = session.execute(
                select(
                    OutboxMessage.allocation_id,
                    OutboxMessage.recipient,
                    OutboxMessage.kind,
                    OutboxMessage.sent_at,
                )
            ).all()
        owed: collections.Counter[tuple[int, str]] = collections.Counter()
        unsent = 0
        balance_edits = 0
        for allocation_id, recipient, kind, sent_at in owed_rows:
            unsent += sent_at is None
            balance_edits += kind == OutboxKind.BALANCES_CHANGED
            if kind == OutboxKind.DAILY_DIGEST:
                continue  # no request of its own; counted below from the channel
            if kind in (OutboxKind.REQUEST_REMINDED, OutboxKind.REQUEST_ESCALATED):
                key = "billing reminder"
            elif kind == OutboxKind.REQUEST_CHASED:
                key = "dm chase"
            elif recipient == Audience.BILLING:
                key = (
                    "billing post" if kind == OutboxKind.ALLOCATION_REQUESTED else "billing update"
                )
            elif recipient == Audience.REQUESTER:
                key = "dm post"
            elif recipient == Audience.RECEIPT:
                key = "dm update"
            else:
                key = recipient
            owed[(int(allocation_id or 0), key)] += 1
        delivered: collections.Counter[tuple[int, str]] = collections.Counter()
        for call in self.slack.calls:
            if not call.delivered or call.method not in ("chat.postMessage", "chat.update"):
                continue
            match = ALLOCATION_REF.search(str(call.params.get("text") or ""))
            if not match:
                continue
            in_billing = call.channel == BILLING_CHANNEL
            verb = "post" if call.method == "chat.postMessage" else "update"
            key = f"{'billing' if in_billing else 'dm'} {verb}"
            text = str(call.params.get("text") or "")
            if verb == "post" and in_billing and call.params.get("thread_ts"):
                key = "billing reminder"
            elif verb == "post" and not in_billing and "being chased" in text:
                key = "dm chase"
            delivered[(int(match.group(1)), key)] += 1
        # A receipt edit that found no receipt to edit is owed but has nothing to deliver.
        # A reminder (or chase) of a request decided before it went out is dropped by the sender,
        # by design: only those of requests still pending count as lost.
        still_pending = {r for r, _n, s in request_sizes if s == AllocationStatus.PENDING}
        lost = sum(
            max(0, n - delivered[key])
            for key, n in owed.items()
            if key[1] != "dm update"
            and (key[1] not in ("billing reminder", "dm chase") or key[0] in still_pending)
        )
        lost_receipt_edits = sum(
            max(0, n - delivered[key]) for key, n in owed.items() if key[1] == "dm update"
        )
        doubled = sum(max(0, n - owed[key]) for key, n in delivered.items())
        faults = collections.Counter(c.fault for c in self.slack.calls if c.faulted)
        # Owed per REQUEST: one billing post and one receipt each, whatever the line count.
        requests = {request_id for request_id, _n, _s in request_sizes}
        not_once = sum(
            owed[(request_id, key)] != 1
            for request_id in requests
            for key in ("billing post", "dm post")
        ) + sum(key[0] not in requests for key in owed if key[1] in ("billing post", "dm post"))
        c = self.counters
        return {
            "requests sent": c.sent,
            "answered 2xx": sum(n for s, n in c.statuses.items() if 200 <= s < 300),
            "answered 4xx": sum(n for s, n in c.statuses.items() if 400 <= s < 500),
            "5xx": sum(n for s, n in c.statuses.items() if s >= 500),
            "tracebacks shown": c.tracebacks_seen,
            "requests by kind": dict(c.by_kind),
            "submissions accepted / refused": (c.submissions_accepted, c.submissions_refused),
            "modals Slack failed to open / person told": (
                c.modal_not_opened,
                c.modal_not_opened_told,
            ),
            "allocations (lines) by status": statuses,
            "requests by status": dict(collections.Counter(s for _r, _n, s in request_sizes)),
            "multi-line submissions accepted / refused": (
                c.multi_line_accepted,
                c.multi_line_refused,
            ),
            "multi-line requests made / approved": (
                sum(n > 1 for _r, n, _s in request_sizes),
                sum(n > 1 and s == AllocationStatus.APPROVED for _r, n, s in request_sizes),
            ),
            "multi-line requests by line count": dict(
                sorted(collections.Counter(n for _r, n, _s in request_sizes if n > 1).items())
            ),
            "requests whose lines disagree on status": self._split_requests(),
            "journal balance check": check_books(self.db),
            "messages owed": sum(owed.values()),
            "  of them, balance edits": balance_edits,
            "messages delivered": sum(delivered.values()),
            "messages unsent": unsent,
            "lost": lost,
            "receipt edits with no receipt": lost_receipt_edits,
            "duplicates": doubled,
            "requests not owed exactly one billing post and one receipt": not_once,
            "pending messages with stale balances": self._stale_pending(),
            "reminders / escalations owed": self._reminders_owed(),
            "reminders for requests decided before them, sent": self._late_reminders(),
            "Home tabs opened / published": (c.home_opens, self._home_publishes()),
            "Homes still due after the drain": self._homes_due(),
            "Homes checked / stale after the drain": self._stale_homes(),
            "slack faults injected": dict(faults),
        }

    def _reminders_owed(self) -> tuple[int, int]:
        with self.db.transaction(read_only=True) as session:
            kinds = dict(
                session.execute(
                    select(OutboxMessage.kind, func.count())
                    .where(
                        OutboxMessage.kind.in_(
                            [OutboxKind.REQUEST_REMINDED, OutboxKind.REQUEST_ESCALATED]
                        )
                    )
                    .group_by(OutboxMessage.kind)
                ).all()
            )
        return (
            kinds.get(OutboxKind.REQUEST_REMINDED, 0),
            kinds.get(OutboxKind.REQUEST_ESCALATED, 0),
        )

    def _late_reminders(self) -> int:
        """Reminder replies Slack received after their request was decided (never allowed)."""
        with self.db.transaction(read_only=True) as session:
            decided = dict(
                session.execute(
                    select(Allocation.allocation_id, Allocation.decided_at).where(
                        Allocation.decided_at.is_not(None), Allocation.line_no == 1
                    )
                ).all()
            )
        late = 0
        for call in self.slack.calls:
            if not (call.delivered and call.params.get("thread_ts")):
                continue
            match = ALLOCATION_REF.search(str(call.params.get("text") or ""))
            at = decided.get(int(match.group(1))) if match else None
            # The stub stamps arrival with the monotonic clock; the ledger with the wall clock.
            wall = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=time.monotonic() - call.at)
            late += at is not None and wall > at + dt.timedelta(seconds=1)
        return late

    def _home_publishes(self) -> int:
        return len(self.slack.deliveries("views.publish"))

    def _stale_homes(self) -> tuple[int, int]:
        """Homes whose last views.publish is not what the ledger shows that person now."""
        home = self.bot.home
        if home is None:
            return 0, 0
        checked, stale = stale_homes(
            (str(c.params.get("user_id")) for c in self.slack.deliveries("views.publish")),
            self.slack.home_of,
            home.view_for,
        )
        return checked, len(stale)

    def _homes_due(self) -> int:
        with self.db.transaction(read_only=True) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(HomeRefresh)
                    .where(HomeRefresh.due_at.is_not(None))
                )
                or 0
            )

    def _split_requests(self) -> int:
        """Requests whose lines are not all in one status (a request is decided whole)."""
        with self.db.transaction(read_only=True) as session:
            return len(
                session.execute(
                    select(Allocation.request_id)
                    .group_by(Allocation.request_id)
                    .having(func.count(func.distinct(Allocation.status)) > 1)
                ).all()
            )

    def _stale_pending(self) -> int:
        """Pending requests whose billing message, as Slack shows it now, is not what the
        ledger says now (balances another decision moved and no edit caught up with)."""
        with self.db.transaction(read_only=True) as session:
            refs = session.execute(
                select(Allocation.allocation_id, SlackMessageRef.channel, SlackMessageRef.ts)
                .join(SlackMessageRef, SlackMessageRef.allocation_id == Allocation.allocation_id)
                .where(
                    Allocation.status == AllocationStatus.PENDING,
                    SlackMessageRef.role == Audience.BILLING,
                )
            ).all()
        stale = 0
        for allocation_id, channel, ts in refs:
            shown = self.slack.message(channel, ts) or {}
            wanted = views.billing_message(self.bot.ledger.allocation(allocation_id))
            stale += shown.get("blocks") != wanted["blocks"]
        return stale

    def close(self) -> None:
        self.server.close()
        self.bot.close()
        self.slack.stop()
        if self._drop_database is not None:
            self._drop_database()
        self._tmp.cleanup()


def _wait(predicate: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def _fresh_postgres(url: str) -> tuple[str, Any]:
    from tests.conftest import create_postgres_database

    return create_postgres_database(url)


def passed(report: dict[str, Any]) -> bool:
    return (
        report["5xx"] == 0
        and report["tracebacks shown"] == 0
        and report["lost"] == 0
        and report["duplicates"] == 0
        and report["messages unsent"] == 0
        and report["pending messages with stale balances"] == 0
        and report["requests whose lines disagree on status"] == 0
        and report["requests not owed exactly one billing post and one receipt"] == 0
        and report["journal balance check"] == []
        and report["reminders for requests decided before them, sent"] == 0
        and report["Homes still due after the drain"] == 0
        and report["Homes checked / stale after the drain"][1] == 0
        and report["drained"]
    )


def print_report(config: StressConfig, report: dict[str, Any], backend: str) -> None:
    ops = report["requests sent"]
    total = report["load_seconds"]
    print(
        f"stress: {ops} operations by {config.concurrency} simulated users"
        f" ({config.approvers} approvers) on {backend},"
        f" Slack fault rate {config.fault_rate:.0%}, seed {config.seed}"
    )
    width = max(len(key) for key in report)
    for key, value in report.items():
        if key in ("load_seconds", "drain_seconds", "drained"):
            continue
        if key == "journal balance check":
            value = "balanced" if not value else f"{len(value)} problems: {value[:3]}"
        print(f"  {key:<{width}}  {value}")
    print(
        f"  {'throughput':<{width}}  {ops / total:.0f} requests/s over {total:.1f} s;"
        f" outbox drained {report['drain_seconds']:.1f} s after the load"
    )
    verdict = "PASS" if passed(report) else "FAIL"
    print("RESULT:", verdict, "(0 lost, 0 doubled, 0 stale messages or Homes, 0 5xx required)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=StressConfig.operations)
    parser.add_argument("--concurrency", type=int, default=StressConfig.concurrency)
    parser.add_argument("--approvers", type=int, default=StressConfig.approvers)
    parser.add_argument("--partners", type=int, default=StressConfig.partners)
    parser.add_argument("--fault-rate", type=float, default=StressConfig.fault_rate)
    parser.add_argument("--seed", type=int, default=StressConfig.seed)
    parser.add_argument("--pace", type=float, default=StressConfig.pace_seconds)
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server to use (a fresh database is created on it and dropped after);"
        " default: a temporary SQLite file",
    )
    args = parser.parse_args(argv)
    # The bot logs every Slack failure it retries; at a 20% fault rate that drowns the report.
    logging.basicConfig(level=logging.CRITICAL)
    config = StressConfig(
        operations=args.operations,
        concurrency=args.concurrency,
        approvers=args.approvers,
        partners=args.partners,
        fault_rate=args.fault_rate,
        seed=args.seed,
        pace_seconds=args.pace,
        database_url=args.database_url,
    )
    simulation = Simulation(config)
    try:
        report = simulation.run()
    finally:
        simulation.close()
    print_report(config, report, "PostgreSQL" if args.database_url else "SQLite")
    return 0 if passed(report) else 1


if __name__ == "__main__":
    raise SystemExit(main())
