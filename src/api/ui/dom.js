// Builds elements. Every piece of data reaches the page as a text node or an attribute value,
// never as markup: no HTML-parsing sink is used anywhere in the dashboard (a unit test checks).

/// el('td', {class: 'x', onclick: f}, 'text', child, ...): children that are strings or
/// numbers become text nodes; null and false are skipped; arrays are flattened.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = value;
    else if (name in node && typeof value !== 'string') node[name] = value;
    else node.setAttribute(name, value === true ? '' : value);
  }
  append(node, children);
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/// svg('rect', {class: 'bar', x: 3}, child, ...): an SVG element. Every attribute is set as an
/// attribute (SVG has no reflected properties to prefer); children as in `el`. Colours come from
/// classes in app.css, never from a style attribute (the page's CSP refuses inline styles).
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

/// Replaces the children of `node`.
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/// The main area, emptied, with a heading; focus moves there for keyboard and screen readers.
export function page(title, ...children) {
  const main = document.getElementById('main');
  document.title = `${title} · schedlite`;
  replace(main, el('h1', {}, title), ...children);
  return main;
}

/// A status line announced to assistive technology.
export function notice(kind = 'info') {
  return el('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' });
}

/// Asks before a destructive action; resolves true only on an explicit yes.
export function confirmDialog(text, yes = 'Delete') {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-yes').textContent = yes;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
  });
}
