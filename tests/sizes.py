"""Two sizes for a long test: ``make test`` runs the short one, ``bench/soak.py`` the full.

A test is long because of its size (handoffs, processes, hypothesis examples), not
because of what it asserts: the short variant makes the same assertions over fewer
items, so every claim stays proved in ``make test`` (within ~10 minutes on 2 cores);
the full-size variant is marked ``soak`` (``pytest -m soak``, deselected by ``make
test``).
"""

from __future__ import annotations

import pytest


def short_and_full(name: str, short: object, full: object) -> pytest.MarkDecorator:
    """Parametrise ``name`` with the short size, and the full size marked ``soak``."""
    return pytest.mark.parametrize(
        name,
        [
            pytest.param(short, id=f"short-{short}"),
            pytest.param(full, id=f"soak-{full}", marks=pytest.mark.soak),
        ],
    )
