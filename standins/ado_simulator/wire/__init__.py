"""Wire behaviour: server profiles and api-version rules, envelopes and error bodies, routing, faults."""
