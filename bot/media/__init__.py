"""Pure functions on bytes, no I/O: what a file is, making it Claude-ready, drawing boxes."""
