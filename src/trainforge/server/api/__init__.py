"""The REST API's routers, one module per resource, each included by ``create_server_app``."""
