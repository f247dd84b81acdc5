"""The products operations of pipl's API as typed functions of a client, one each.

Written by ``make api`` (``pipl.api.codegen``) from the functions of ``pipl.api.service``
that carry the operations out: change those, not this file.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from pipl.api.models import value_of
from pipl.api.ops import Route
from pipl.api.releases import AssetCheck, Product

if TYPE_CHECKING:
    from pipl.api.client.remote import Sender


PRODUCTS_LIST = Route("products.list", "GET", "/api/v1/products")


def products_list(client: Sender, offset: int = 0, limit: int = 50) -> builtins.list[Product]:
    """Products (releases made by processing), newest first, one page of them."""
    answer: builtins.list[Product] = value_of(
        builtins.list[Product], client.send(PRODUCTS_LIST, {"offset": offset, "limit": limit})
    )
    return answer


PRODUCTS_GET = Route("products.get", "GET", "/api/v1/products/{product}/{version}")


def products_get(client: Sender, product: str, version: str) -> Product:
    """A product with its provenance (the releases it was made from) and its assets."""
    answer: Product = value_of(
        Product, client.send(PRODUCTS_GET, {"product": product, "version": version})
    )
    return answer


PRODUCTS_VERIFY = Route(
    "products.verify", "GET", "/api/v1/products/{product}/{version}/assets/{asset}/verify"
)


def products_verify(client: Sender, product: str, version: str, asset: str) -> AssetCheck:
    """Re-hash the stored object of an asset on the project's side."""
    answer: AssetCheck = value_of(
        AssetCheck,
        client.send(PRODUCTS_VERIFY, {"product": product, "version": version, "asset": asset}),
    )
    return answer
