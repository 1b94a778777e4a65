"""``veo bench signaling``: what idle agents cost a ``veo server`` node, and how long a session
takes to set up, on one node and on two sharing PostgreSQL and Redis.

The bench starts real ``veo server`` processes on loopback (``nodes.py``), fills a throwaway
database with sessions whose codes it knows (``world.py``), and drives them with simulated peers
that speak the real signaling protocol over WebSockets, without media (``peers.py``): N agents
that join and stay idle (``idle.py``: the node's memory before and after, per connection, and
its CPU while they idle) and concurrent set-ups from the API call to the consent reaching the
console (``setups.py``). Then managed devices (issue 17) on fresh nodes with a database of their
own: N enrolled devices that each hold an authenticated ``/ws/device`` and beat (``devices.py``),
their memory, idle CPU and connect times, and idle agents joined beside them for the ratio
(``device_idle.py``). Figures are printed and written as JSON (``report.py``); nothing is
asserted, and every count and wait is bounded by the command line.
"""
