"""WCAG AA text contrast of a rendered page, measured in the browser (tests/integration).

For every visible element that holds text of its own, the text colour is compared with the
first opaque background colour found walking up the tree (gradients and images behind text are
not considered: the console uses neither). AA asks 4.5:1 for normal text, 3:1 for large text
(at least 24 px, or 18.66 px bold). SVG chart text is checked against white (the charts' fill).
"""

from __future__ import annotations

from typing import Any

_SCRIPT = """
() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bg = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('[hidden], .visually-hidden, noscript, script, style')) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || Number(cs.opacity) === 0) continue;
    const inSvg = el instanceof SVGElement;
    const fg = parse(inSvg ? cs.fill : cs.color).slice(0, 3);
    const back = inSvg ? [255, 255, 255] : bg(el);
    const [a, b] = [lum(fg), lum(back)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(cs.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
    const disabled = el.closest('button:disabled, [aria-disabled=true]');
    if (!disabled && ratio < (large ? 3 : 4.5)) {
      out.push(`${el.tagName.toLowerCase()}.${el.className?.baseVal ?? el.className} `
        + `"${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}:1`);
    }
  }
  return out;
}
"""


def contrast_failures(page: Any) -> list[str]:
    """Text on the page below WCAG AA contrast, as ``tag.class "text" ratio`` strings."""
    found: list[str] = page.evaluate(_SCRIPT)
    return found
