"""Event bus between server nodes: peers of one session may be connected to different nodes.

``base.Bus`` is the interface, ``memory.MemoryBus`` the in-process default, ``redis.RedisBus``
for several nodes (``VEO_REDIS_URL``), and ``auto.create_bus`` the chooser. Both backends queue
each subscription's messages in a ``local.LocalQueue``; the Redis one multiplexes every channel
of a node over one pub/sub connection (``redis_link``) and catches up after a reconnect from a
short per-channel history (``history``), then yields ``base.RESYNC``.
"""
