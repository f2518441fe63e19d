"""How decisions get in and outcomes get out: the HTTP reverse proxy, outcome webhooks."""
