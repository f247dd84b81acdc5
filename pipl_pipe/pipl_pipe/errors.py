"""Errors of the framework. Each message names the object, packl or entry point at fault."""

from __future__ import annotations


class PipeError(Exception):
    """Root of pipl-pipe's errors."""


class PluginError(PipeError):
    """An entry point could not be loaded or called; the message names it and its packl."""


class ServiceError(PipeError):
    """A service is unknown, provided twice, or failed to start."""


class AssetError(PipeError):
    """An asset or stored object is missing or unusable."""


class AssetMissing(AssetError):
    """No object with that hash in the store."""


class AssetCorrupted(AssetError):
    """A stored object's content does not match its hash."""


class ManifestError(PipeError):
    """A product manifest is missing or does not parse."""


class TaskTypeError(PipeError):
    """An unknown task type, or a packl that cannot become a task."""


class PyProjectError(PipeError):
    """A packl's pyproject.toml is missing or broken."""
