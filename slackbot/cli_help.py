"""The ``slackbot`` command line's help pages: wrapped between words, each value named.

Typer's Rich help puts each parameter's type in a column that folds words at any character
(a narrow terminal showed ``<partners|members|p`` / ``ayments|invoices>``, ``in voices``) and
labels every flag ``<bool>``. So the help pages name each value with a short metavar (KIND,
FILE, FORMAT, HOST) and list the choices in the help text, where Rich wraps between words.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

__all__ = ["PlainGroup"]


class _PlainArgument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # its name column already says KIND or FILE


class _PlainOption(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag:
            return None
        return self.metavar or (self.name or "value").upper()


def _plain_params(command: Any) -> None:
    for param in command.params:
        if isinstance(param, TyperArgument):
            if param.metavar is None:
                param.metavar = (param.name or "value").upper()
            param.__class__ = _PlainArgument
        elif isinstance(param, TyperOption):
            param.__class__ = _PlainOption


class _PlainCommand(TyperCommand):
    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if isinstance(option, TyperOption):
            option.__class__ = _PlainOption
        return option


class PlainGroup(TyperGroup):
    """A command group whose help pages, and its commands', wrap between words only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_params(self)
        for command in self.commands.values():
            if type(command) is TyperCommand:
                command.__class__ = _PlainCommand
                _plain_params(command)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if isinstance(option, TyperOption):
            option.__class__ = _PlainOption
        return option
