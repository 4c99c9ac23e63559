"""Everything that speaks Slack: ids, views, the sender, approvers, request checks."""
