"""Slack listeners, one module per kind; each module's ``register(app)`` wires its listeners."""

from __future__ import annotations

from slack_bolt import App

from handlers import actions, commands, home, launcher, options, submissions


def register_all(app: App) -> None:
    commands.register(app)
    actions.register(app)
    launcher.register(app)
    submissions.register(app)
    options.register(app)
    home.register(app)
