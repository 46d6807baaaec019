"""Service hook events: the catalog of publishers and event types, subscriptions and their notification
history, the changes of a world advance turned into event payloads, filters, delivery and faults.
See docs/simulator.md, 'Service hooks and events'."""
