"""Workspaces: uv-made virtualenvs that install packls from the project index and expose
their commands in a shell."""
