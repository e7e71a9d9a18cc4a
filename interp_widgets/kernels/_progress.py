"""Progress for kernels with a known amount of work: ``progress`` is ``None``/``True`` (a
tqdm bar, removed when done), ``False`` (nothing) or a callable taking the fraction done."""

from __future__ import annotations

from typing import Callable, Optional


def ticker(progress, total: int, desc: str, unit: str) -> Callable[[Optional[int]], None]:
    """``tick(n)`` after ``n`` more units of work; ``tick(None)`` when finished."""
    if progress is False:
        return lambda n: None
    if callable(progress):
        done = [0]

        def report(n):
            if n is not None:
                done[0] += n
                progress(done[0] / total)
        return report
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, leave=False)

    def tick(n):
        if n is None:
            bar.close()
        else:
            bar.update(n)
    return tick
