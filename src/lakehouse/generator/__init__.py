"""Feed generator: a coherent world of market entities, departments and their
records, written as the 17 sources' daily folders in templates S, P, J, X with
the faults of /work/shared/feeds.md, plus an answer file for the tests.

    from lakehouse.generator import generate, PRESETS
    summary = generate(out=Path("landing"), truth=Path("truth"), preset="small", seed=7)
"""

from .core import generate
from .presets import PRESETS

__all__ = ["generate", "PRESETS"]
