"""Event bus between server nodes: peers of one session may be connected to different nodes.

``base.Bus`` is the interface, ``memory.MemoryBus`` the in-process default, ``redis.RedisBus``
for several nodes (``VEO_REDIS_URL``), and ``auto.create_bus`` the chooser.
"""
