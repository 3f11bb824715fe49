// Small DOM helpers shared by the window's screens.

/** An element with an optional class and text. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A button that calls `onClick`. */
export function btn(label: string, onClick: () => void, title?: string): HTMLButtonElement {
  const b = h("button", "button", label);
  b.type = "button";
  if (title) b.title = title;
  b.addEventListener("click", onClick);
  return b;
}
