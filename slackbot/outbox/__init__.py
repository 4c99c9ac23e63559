"""The outbox: what each change owes people, coalesced, and the queue senders claim from."""
