"""The agent's device side (issue 17): enrolment, the device service and its local history.

A computer IT enrolled keeps a key (``device.key``) and what the server told it
(``device.json``) in its state directory; ``veo agent service`` (a system unit) keeps
``/ws/device`` open with that key and starts the session part on the user's desktop when a
technician connects. Nothing here imports the server.
"""
