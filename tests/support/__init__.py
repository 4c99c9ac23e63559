"""What tests and bench/ share: the stand-in Slack Web API, signed payloads, harness, factories."""
