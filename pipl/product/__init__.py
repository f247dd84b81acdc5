"""Products: build a product packl from a folder of outputs, and run task processing that
publishes them. The reading side (``Product``, assets, typed queries) is pipl-pipe's
``pipl_pipe.products``.
"""
