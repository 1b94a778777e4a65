"""The agent's windows (Tk): join code, consent dialog, session bar, end notice."""
