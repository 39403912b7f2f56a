"""The REST API's routers, one module per resource; ``server/app.py`` includes each."""
