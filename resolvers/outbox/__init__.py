"""The outbox (CMP-3): queueing messages to customers, the senders per channel, the sweep."""
