"""Client methods made from the operations' functions (``pipl.api.client.operations``).

``name = remote(operations.jobs_get)`` in a domain class of the client is that function
with the client bound: the same parameters, docstring and typed result, all of them those
of the function of ``pipl.api.service`` that carries the operation out. A method that adds
something of its own (reading local files, a loop) calls the function itself.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from pipl.api.ops import Route

P = ParamSpec("P")
R = TypeVar("R")


class Sender(Protocol):
    """What sends operations: the ``Client`` (over HTTP, or in this process)."""

    def send(self, route: Route, params: dict[str, Any]) -> Any: ...

    def download(self, url: str) -> Iterator[bytes]: ...


class Domain:
    """A group of the client's methods (``client.jobs``, ``client.releases``...)."""

    def __init__(self, client: Sender) -> None:
        self._client = client


class remote(Generic[P, R]):
    """``name = remote(operations.FUNC)`` in a ``Domain``: a method calling it."""

    def __init__(self, func: Callable[Concatenate[Sender, P], R]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> remote[P, R]: ...

    @overload
    def __get__(self, obj: Domain, owner: type) -> Callable[P, R]: ...

    def __get__(self, obj: Domain | None, owner: type) -> remote[P, R] | Callable[P, R]:
        if obj is None:
            return self
        method = functools.partial(self.func, obj._client)
        functools.update_wrapper(method, self.func)
        method.__signature__ = _without_client(self.func)  # type: ignore[attr-defined]
        return method


@functools.cache
def _without_client(func: Callable[..., Any]) -> inspect.Signature:
    signature = inspect.signature(func)
    return signature.replace(parameters=list(signature.parameters.values())[1:])
