"""``python -m slackbot.sandbox [--port P] [--host H] [--data-dir D]``: the sandbox alone."""

import typer

from slackbot.sandbox.command import sandbox

typer.run(sandbox)
