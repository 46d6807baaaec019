"""The sync loop: streams -> sealed batches in the outbox -> upload."""
