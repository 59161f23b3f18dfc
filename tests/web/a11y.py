"""Accessibility checks run inside the page by the browser tests (WCAG 2.2 AA, the parts a script can
decide): every form control and button has an accessible name, text contrast is at least 4.5:1 (3:1
for large text) computed from the styles the browser applied, images have alternatives, one h1 and a
page language, nothing loaded from outside the app; and, with the keyboard alone, Tab reaches the
controls in order with a visible focus indicator.

Why explicit checks rather than a vendored axe-core: no download into the tests, and each rule here
is the short WCAG definition it checks (contrast: relative luminance, success criterion 1.4.3)."""

from __future__ import annotations

AUDIT_JS = r"""
const problems = [];
const where = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
  (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
const shown = el => { const s = getComputedStyle(el); const r = el.getBoundingClientRect();
  return s.visibility !== 'hidden' && s.display !== 'none' && r.width > 0 && r.height > 0; };
const text = el => (el.innerText || el.textContent || '').trim();
function accessibleName(el) {
  if (el.getAttribute('aria-label')) return el.getAttribute('aria-label').trim();
  const by = el.getAttribute('aria-labelledby');
  if (by) return by.split(/\s+/).map(id => text(document.getElementById(id) || document.createElement('i'))).join(' ').trim();
  if (el.id) { const l = document.querySelector('label[for="' + CSS.escape(el.id) + '"]'); if (l && text(l)) return text(l); }
  const wrap = el.closest('label'); if (wrap && text(wrap)) return text(wrap);
  if (el.tagName === 'BUTTON' || el.tagName === 'A') return text(el);
  if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type)) return (el.value || '').trim();
  return (el.getAttribute('title') || '').trim();
}
for (const el of document.querySelectorAll('input, select, textarea, button, a[href]')) {
  if ((el.tagName === 'INPUT' && el.type === 'hidden') || !shown(el)) continue;
  if (!accessibleName(el)) problems.push('no accessible name: ' + where(el));
}
for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) problems.push('img without alt');
for (const svg of document.querySelectorAll('svg')) {
  if (svg.closest('[aria-hidden="true"]')) continue;
  if (!(svg.getAttribute('role') === 'img' && (svg.getAttribute('aria-label') || svg.querySelector('title'))))
    problems.push('svg chart without role=img and a name: ' + where(svg));
}
if (!document.documentElement.lang) problems.push('no page language');
if (document.querySelectorAll('h1').length !== 1) problems.push('h1 count ' + document.querySelectorAll('h1').length);
// contrast (WCAG 1.4.3): relative luminance of the text colour over the painted background
const rgba = c => { const m = c.match(/[\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
const over = (top, under) => { const a = top[3]; return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]); };
const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
function background(el) {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const s = getComputedStyle(e);
    if (s.backgroundImage !== 'none') return null;  // a gradient or picture: not decidable here
    const c = rgba(s.backgroundColor); if (c[3] > 0) layers.push(c);
    if (c[3] === 1) break;
  }
  let bg = [255, 255, 255, 1];
  for (const c of layers.reverse()) bg = over(c, bg);
  return bg;
}
const seen = new Set();
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const el = n.parentElement;
  if (!n.textContent.trim() || !el || seen.has(el) || !shown(el)) continue;
  seen.add(el);
  if (el.closest('.visually-hidden, [aria-hidden="true"]')) continue;
  const s = getComputedStyle(el), bg = background(el);
  if (!bg) continue;
  const fg = over(rgba(s.color), bg);
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  const ratio = (hi + 0.05) / (lo + 0.05);
  const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
  const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
  if (ratio < need) problems.push('contrast ' + ratio.toFixed(2) + ' < ' + need + ': ' + where(el) + ' "' + n.textContent.trim().slice(0, 40) + '"');
}
// every resource from the app itself
for (const r of performance.getEntriesByType('resource'))
  if (!r.name.startsWith(location.origin) && !r.name.startsWith('data:')) problems.push('outside asset: ' + r.name);
for (const el of document.querySelectorAll('[src], link[href]')) {
  const u = el.getAttribute('src') || el.getAttribute('href');
  if (/^(https?:)?\/\//.test(u) && !u.startsWith(location.origin)) problems.push('outside asset: ' + u);
}
return problems;
"""

FOCUS_JS = r"""
const el = document.activeElement;
if (!el || el === document.body) return null;
const s = getComputedStyle(el);
const visible = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none';
return [el.tagName.toLowerCase(), el.id || '', el.getAttribute('name') || '', visible,
        el.getBoundingClientRect().top + window.scrollY, (el.textContent || '').trim().slice(0, 60)];
"""


def audit(driver) -> list[str]:
    """The page's accessibility problems (empty when it passes)."""
    return driver.execute_script(AUDIT_JS)


def tab_through(driver, stop_at: str, limit: int = 150) -> list[list]:
    """Press Tab from the top of the page until the element with id ``stop_at`` has the focus; returns
    [tag, id, name, focus visible, y, text] for each element focused on the way (AssertionError if never)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver.get(driver.current_url)  # a fresh load: Tab starts at the top, not after the last click
    path: list[list] = []
    for _ in range(limit):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        focused = driver.execute_script(FOCUS_JS)
        if focused is None:
            continue
        path.append(focused)
        if focused[1] == stop_at:
            return path
    raise AssertionError(f"Tab never reached #{stop_at}; focused: {[p[:3] for p in path[-10:]]}")
