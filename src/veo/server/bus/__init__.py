"""Event bus between server nodes: peers of one session may be connected to different nodes.

``base.Bus`` is the interface, ``memory.MemoryBus`` the in-process default, ``auto.create_bus``
the chooser (Redis comes later).
"""
