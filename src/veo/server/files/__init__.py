"""Files a technician chose to keep on a ticket (received from the user during a session)."""
