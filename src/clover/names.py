"""Names of the registries that a command line offers before it imports what implements them.

``clover run --scheme``, ``clover optimize --scheme`` and the config schema's scheme enum need
the scheme and protocol names, but importing :mod:`clover.optimize` (scipy, networkx) at ``clover``
startup would cost every pipeline job ~1 s. This module holds the names only; the
implementation (:data:`clover.optimize.schemes.SCHEMES`, ``DEFAULTS``) and the schema
(``clover/config.schema.yaml``) are checked against it by ``tests/test_config.py``.
"""

from __future__ import annotations

#: the experiment protocols (:mod:`clover.sim.protocol`), in the order tables show them
PROTOCOL_NAMES = ("paper", "extended")
#: every scheme :func:`clover.optimize.schemes.make_scheme` knows, in its order
SCHEME_NAMES = ("base", "co2opt", "clover", "blover", "oracle", "jung", "sa-raw", "static",
                "static-daily")
