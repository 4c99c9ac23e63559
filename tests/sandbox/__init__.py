"""Tests of slackbot sandbox: the page, its rendering and limit checks, in a browser too."""
