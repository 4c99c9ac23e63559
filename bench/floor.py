"""The floor: a bare Bolt app that only acks, on the same waitress settings and signing as the bot.

Every request path the benchmark measures is sent here too, interleaved with the bot's, so the
table can say how far above what Bolt and the HTTP stack cost by themselves each path sits.

    python -m bench.floor --port 3100 [--process-before-response]

Reads SLACK_SIGNING_SECRET and SLACK_API_URL from the environment, like the bot.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from slack_bolt import Ack, App  # noqa: E402
from slack_bolt.adapter.wsgi import SlackRequestHandler  # noqa: E402
from slack_sdk import WebClient  # noqa: E402
from waitress.server import create_server  # noqa: E402

# slackbot.server.run serves with these waitress settings; the floor must match them.
SERVER_THREADS = 8
EVENTS_PATH = "/slack/events"


def build_floor_app(
    signing_secret: str, api_url: str, *, process_before_response: bool = False
) -> App:
    """Bolt with one listener per path the benchmark measures, each doing nothing but ack."""
    app = App(
        signing_secret=signing_secret,
        client=WebClient(token="xoxb-floor", base_url=api_url),
        token_verification_enabled=False,
        raise_error_for_unhandled_request=False,
        process_before_response=process_before_response,
    )

    def just_ack(ack: Ack) -> None:
        ack()

    app.command("/payments")(just_ack)
    app.options("invoice")(just_ack)
    app.view("allocation_modal")(just_ack)
    app.action(re.compile(r"^approve_allocation(:.*)?$"))(just_ack)
    app.action("allocate_suggested")(just_ack)
    app.event("app_home_opened")(just_ack)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--process-before-response", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    app = build_floor_app(
        os.environ["SLACK_SIGNING_SECRET"],
        os.environ.get("SLACK_API_URL", "https://slack.com/api/"),
        process_before_response=args.process_before_response,
    )
    handler = SlackRequestHandler(app, path=EVENTS_PATH)
    server = create_server(
        handler, host=args.host, port=args.port, threads=SERVER_THREADS, ident="floor"
    )

    def stop(_signum: int, _frame: FrameType | None) -> Any:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
