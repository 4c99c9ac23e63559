"""Tests of the Slack surface through the real app: views, flow, authorization, hostile payloads."""
