"""The agent that people download from their own server (``/download``), and the folder of builds."""
