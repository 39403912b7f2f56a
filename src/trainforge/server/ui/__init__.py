"""The web UI: pages rendered on the server with Jinja2, made live with htmx (polling for job
logs and learning curves) and uPlot for the curves; both are vendored static files, so there is
no front-end build step and nothing is fetched from the network.

Pages read through the same functions as the REST API (the store, the registry); their forms
post to UI routes that call those functions too, with the session's CSRF token.
"""
