"""Client methods made from the functions that carry out the operations.

``remote(func)`` in a domain class of the client is ``func`` (an operation of
``pipl.api.service``) seen from the client's side: the same parameters without ``ctx``,
the same docstring, the same typed result built from the JSON answer. A method that adds
something of its own (reading local files, a loop) calls ``self._client.call(func, ...)``:
either way the operation is written once, where it is carried out.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from pipl.api import ops
from pipl.api.models import value_of

if TYPE_CHECKING:
    from pipl.api.service import Context

P = ParamSpec("P")
R = TypeVar("R")


class Caller(Protocol):
    """What sends operations: the ``Client``."""

    def call(
        self, func: Callable[Concatenate[Context, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R: ...

    def download(self, url: str) -> Iterator[bytes]: ...


class Domain:
    """A group of the client's methods (``client.jobs``, ``client.releases``...)."""

    def __init__(self, client: Caller) -> None:
        self._client = client


class remote(Generic[P, R]):
    """``name = remote(service_function)`` in a ``Domain``: a method calling it."""

    def __init__(self, func: Callable[Concatenate[Context, P], R]) -> None:
        self.func = func
        self.op = ops.op_of(func)
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
        client, func = obj._client, self.func

        def method(*args: P.args, **kwargs: P.kwargs) -> R:
            return client.call(func, *args, **kwargs)

        method.__name__ = self.name
        method.__doc__ = func.__doc__
        method.__signature__ = client_signature(func)  # type: ignore[attr-defined]
        return method


@functools.cache
def client_signature(func: Callable[..., Any]) -> inspect.Signature:
    """``func``'s signature without its first parameter (``ctx``)."""
    signature = inspect.signature(func)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def arguments(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The parameters of a call of ``func`` without ``ctx``, by name (a wrong call is the
    ``TypeError`` Python gives)."""
    return dict(client_signature(func).bind(*args, **kwargs).arguments)


@functools.cache
def result_type(func: Callable[..., Any]) -> Any:
    return typing.get_type_hints(func)["return"]


def result(func: Callable[..., Any], answer: Any) -> Any:
    """The JSON ``answer`` of ``func``'s operation as the type ``func`` returns."""
    return value_of(result_type(func), answer)
