"""``python -m slackbot``: the same command line as the ``slackbot`` console script."""

from slackbot.cli import main

main()
