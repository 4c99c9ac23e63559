"""Tests of the outbox and the sender: ordering, pacing, coalescing."""
