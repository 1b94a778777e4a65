"""The global "stop the session" key: works whatever window has the focus, even a full-screen one."""
