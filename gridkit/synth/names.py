"""Chinese names of the synthetic county: numerals, street and community names, estates."""

from __future__ import annotations

import numpy as np

from gridkit.synth.tables import names as name_lists

__all__ = ["community_name", "estate_names", "line_names", "suffix", "zh_number"]

_ZH_DIGITS = "零一二三四五六七八九"


def zh_number(n: int) -> str:
    """Chinese numeral for 0-999.

    >>> [zh_number(n) for n in (3, 10, 12, 40, 101, 115)]
    ['三', '十', '十二', '四十', '一百零一', '一百一十五']
    """
    if n < 10:
        return _ZH_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else _ZH_DIGITS[tens]) + "十" + (_ZH_DIGITS[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = _ZH_DIGITS[hundreds] + "百"
        if rest == 0:
            return head
        if rest < 10:
            return head + "零" + _ZH_DIGITS[rest]
        return head + _ZH_DIGITS[rest // 10] + "十" + (_ZH_DIGITS[rest % 10] if rest % 10 else "")
    return str(n)


def line_names(roots: list[str], count: int, prefix: str) -> list[str]:
    """Roots first, then numbered names (经一路, 纬二路 ...)."""
    names = list(roots[:count])
    names += [f"{prefix}{zh_number(k + 1)}" for k in range(count - len(names))]
    return names


def suffix(root: str, highway: str) -> str:
    return root + ("街" if highway == "residential" else "路")


def community_name(k: int) -> str:
    roots = name_lists()["community_root"]
    root = roots[k % len(roots)]
    cycle = k // len(roots)
    return f"{root}{zh_number(cycle + 1) if cycle else ''}社区"


def estate_names(n: int, rng: np.random.Generator) -> list[str]:
    roots = rng.permutation(name_lists()["estate_root"])
    combos = [r + s for s in name_lists()["estate_suffix"] for r in roots]
    return [combos[k % len(combos)] + (f"{zh_number(k // len(combos) + 1)}期" if k >= len(combos) else "")
            for k in range(n)]

