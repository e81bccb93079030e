"""Two sizes for a long test: ``make test`` runs the short one, ``bench/soak.py`` the full.

A test is long because of its size (handoffs, processes, hypothesis examples), not
because of what it asserts: the short variant makes the same assertions over fewer
items, so every claim stays proved in ``make test`` (within ~10 minutes on 2 cores);
the full-size variant is marked ``soak`` (``pytest -m soak``, deselected by ``make
test``).
"""

from __future__ import annotations

from typing import TypeVar, cast

import pytest
from hypothesis import settings

C = TypeVar("C", bound=type)


def short_and_full(name: str, short: object, full: object) -> pytest.MarkDecorator:
    """Parametrise ``name`` with the short size, and the full size marked ``soak``."""
    return pytest.mark.parametrize(
        name,
        [
            pytest.param(short, id=f"short-{short}"),
            pytest.param(full, id=f"soak-{full}", marks=pytest.mark.soak),
        ],
    )


def soak_case(case: C, examples: int) -> C:
    """A hypothesis state machine's ``TestCase`` at full size (``examples``), marked
    ``soak``; ``make test`` runs ``case`` with its own (fewer) examples."""
    full = type(
        f"{case.__name__}Soak",
        (case,),
        {"settings": settings(max_examples=examples, stateful_step_count=40, deadline=None)},
    )
    return cast("C", pytest.mark.soak(full))
