"""Who may come in and do what: accounts and roles, sessions, API tokens, share links, the login limit.

It stores through `db/` and knows no Flask: `web/auth.py` and `web/access.py` ask it.
"""
