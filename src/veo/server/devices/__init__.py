"""Company devices (issue 17): groups and their policy, enrolment tokens, enrolled devices, the
device socket and connecting to a device. ``veo.protocol.device`` is the wire contract."""
