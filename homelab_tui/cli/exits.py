"""The exit codes of every command: 0 success (or nothing to do), 1 something failed or could not
be reached, 2 a bad config, flag or answer (the message names it)."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports it
