"""The ``mailstep`` command line (not shipped in the Lambda zip)."""
