"""The project's package index: the REST client, credentials, and the stage chain.

Public surface: ``pipl.index.client.IndexClient``, ``pipl.index.session.connect``,
``pipl.index.stages.create_default``, ``pipl.index.status.server_status``. Nothing is
imported here so that ``pipl.index`` stays cheap to import.
"""
