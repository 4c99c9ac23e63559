"""``slackbot sandbox``: a local page that plays Slack against the real bot (issue 17).

A door, like the CLI: it calls the services to load example books and runs ``slackbot serve``
as a child; it uses only the standard library and our own modules, never Slack's libraries
(the requests it sends are built and signed here, and its Web API stand-in is its own).
"""
