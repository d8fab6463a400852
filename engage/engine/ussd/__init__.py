"""USSD menus: declarative documents of screens (document.py, validated on save by validation.py),
walked one hop at a time by dialog.step() with the session kept in the database, and a registry
of actions (actions.py) and input validators (validators.py) they call. Gateway adapters (HTTP
aggregators, SMPP) turn their requests into dialog.Hop and answer with the dialog.Screen."""
