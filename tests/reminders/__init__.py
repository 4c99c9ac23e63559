"""Reminders and escalation: business time, deciding once, the loop, the messages."""
