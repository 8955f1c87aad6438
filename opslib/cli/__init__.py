"""The ``opslib`` command: thin over the library, one error handler for all commands."""
