// WCAG 2.x contrast of the text a page shows, computed in the page from the cascade: every
// visible element with its own text, its color against the first opaque background behind it
// (translucent layers blended in). Disabled controls are exempt (WCAG 1.4.3).

/** Text elements whose contrast is below `min` (4.5:1 for body text), as `[{ text, ratio }]`. */
export async function contrastFailures(page, min = 4.5) {
  return page.evaluate((min) => {
    const parse = (c) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    };
    const over = (top, under) => ({
      r: top.r * top.a + under.r * (1 - top.a),
      g: top.g * top.a + under.g * (1 - top.a),
      b: top.b * top.a + under.b * (1 - top.a),
      a: 1,
    });
    const background = (el) => {
      const layers = [];
      for (let n = el; n; n = n.parentElement) {
        const bg = parse(getComputedStyle(n).backgroundColor);
        if (bg && bg.a > 0) {
          layers.push(bg);
          if (bg.a >= 1) break;
        }
      }
      let c = { r: 255, g: 255, b: 255, a: 1 };
      for (const l of layers.reverse()) c = over(l, c);
      return c;
    };
    const lum = ({ r, g, b }) => {
      const f = (v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const opacity = (el) => {
      let o = 1;
      for (let n = el; n; n = n.parentElement) o *= Number(getComputedStyle(n).opacity);
      return o;
    };
    const failures = [];
    for (const el of document.querySelectorAll('body *')) {
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own || el.closest('[hidden], .visually-hidden, :disabled')) continue;
      const rect = el.getBoundingClientRect();
      if (rect.width === 0 || rect.height === 0) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden') continue;
      const bg = background(el);
      const fg = over({ ...parse(style.color), a: parse(style.color).a * opacity(el) }, bg);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      if (ratio < min) {
        failures.push({ text: el.textContent.trim().slice(0, 40), sel: `${el.tagName}.${el.className}`, ratio: Math.round(ratio * 100) / 100 });
      }
    }
    return failures;
  }, min);
}
