"""The result of ``iw.ablate``: how the next-token distribution moves when components are
switched off."""

from __future__ import annotations

from dataclasses import dataclass, field


__all__ = ["Ablation"]


@dataclass
class Ablation:
    """Next-token distribution at the last position, before and after an ablation (a masked
    LM's: the token distribution at its mask; a classifier's: the class distribution).

    Attributes:
        tokens: the prompt's tokens.
        heads, neurons: what was ablated (``(layer, head)`` / ``(layer, index)`` pairs).
        mode: ``"zero"`` or ``"mean"``.
        top_before, top_after: the ``k`` most likely next tokens ``[(text, prob)]`` of each run.
        movers: tokens whose probability moved most ``[(text, before, after)]``.
        kl: KL(before || after) in nats.
        logprob_change: change of the clean run's top token's log-probability.
        table: the union of both top-``k`` lists ``[(text, before, after)]``, most likely
            before first: each token's probability in both runs (what a view lists).
        readout: what the distribution is: ``"next token"``, ``"token at [MASK] #6"``,
            ``"class"``.
    """

    tokens: list[str]
    heads: list[tuple[int, int]]
    neurons: list[tuple[int, int]]
    mode: str
    top_before: list[tuple[str, float]]
    top_after: list[tuple[str, float]]
    movers: list[tuple[str, float, float]]
    kl: float
    logprob_change: float
    info: dict = field(default_factory=dict)
    table: list[tuple[str, float, float]] = field(default_factory=list)
    readout: str = "next token"

    def __repr__(self) -> str:
        b, a = self.top_before[0], self.top_after[0]
        return (f"Ablation({self.mode}, heads={self.heads}, neurons={self.neurons}: top {b[0]!r} "
                f"{b[1]:.3f} -> {a[0]!r} {a[1]:.3f}, KL {self.kl:.4f}, "
                f"logprob change {self.logprob_change:+.3f})")
