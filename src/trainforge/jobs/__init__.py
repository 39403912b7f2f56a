"""The application layer: one module per job, and the one run lifecycle they share.

The SDK (``trainforge``), the CLI and the server's workers call these functions for work;
they parse and render, this package does. Nothing is re-exported here, so importing one job
loads only what that job needs.
"""
