"""Service hooks area: publishers, event types, consumers, subscriptions and their notification history."""
