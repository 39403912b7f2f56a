"""The platform: one FastAPI app serving the REST API (``/api/v1``), the web UI and the
prediction endpoints of deployed models, with background jobs run by worker processes and
access control by API tokens (scripts) and sessions (browsers).

``trainforge server`` starts it; ``create_server_app`` builds the app for tests and embedding.
"""
