"""Service hook events (issue 22, docs/events.md): the server says where to look, the satellite reads it.

    catalog.py        event types: their service, the streams an event marks due, and the subscriptions
    payload.py        an event's shape, checked in one place (``parse_event``)
    auth.py           HTTP Basic credentials compared in constant time
    receiver.py       POST /events/ado/<integration>: auth, bound, parse, de-duplicate, record due partitions
    focus.py          the due partitions of one run, by collection (what the collector reads)
    driver.py         the agent's event job (a focused Collector over the due partitions), the check after a sweep
    health.py         a subscription that stopped delivering (stale) and its warning
    subscriptions.py  the Service Hooks API: what to subscribe, create/update/list/delete
    command.py        ``satellite events subscribe|list|unsubscribe``
"""
