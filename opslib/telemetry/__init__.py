"""The stack's history as pandas frames, the same code on both targets.

``schema.py`` names every frame's typed columns (the one place they are documented),
``parse.py`` turns API response dicts into rows (pure, table-tested), and ``fetch.py``
reads the services through :class:`opslib.target.Session`, counting every API call and
recording the window each source really covers.
"""
