"""Tests of the App Home: its data, views, coalesced refreshes and the app_home_opened event."""
