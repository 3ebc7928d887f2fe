"""The interactive FTP client (a prompt_toolkit REPL), built on aioftp_lite's client API."""
