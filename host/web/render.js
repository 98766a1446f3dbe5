// Markdown for agent and user messages, through markdown-it (vendored, see web/vendor/README.md).
//
// Safety: `html: false` makes markdown-it escape every tag in the source, so the HTML it returns
// holds only the elements markdown itself produces; links keep only http(s) and mailto targets
// (anything else, e.g. `javascript:`, stays plain text), and images are off (the CSP allows none
// from elsewhere, and a tracking pixel should not load by reading a message).

import MarkdownIt from './markdown-it.js';

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
md.disable('image');

const SAFE_LINK = /^(https?:|mailto:)/i;
md.validateLink = (url) => SAFE_LINK.test(url.trim());

const defaultLinkOpen =
  md.renderer.rules.link_open ?? ((tokens, i, options, env, self) => self.renderToken(tokens, i, options));
md.renderer.rules.link_open = (tokens, i, options, env, self) => {
  tokens[i].attrSet('rel', 'noopener noreferrer');
  tokens[i].attrSet('target', '_blank');
  return defaultLinkOpen(tokens, i, options, env, self);
};

/** A copy button for one code block. */
function copyButton(code) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'btn btn-link copy-code';
  button.textContent = 'Copy';
  button.setAttribute('aria-label', 'Copy code');
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(code.textContent ?? '');
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Copy failed';
    }
    setTimeout(() => {
      button.textContent = 'Copy';
    }, 1500);
  });
  return button;
}

/** A `<div class="markdown">` with `text` rendered as markdown. Never folded. */
export function renderMarkdown(text) {
  const wrap = document.createElement('div');
  wrap.className = 'markdown';
  // markdown-it with html: false escapes all source HTML; see the note at the top.
  wrap.innerHTML = md.render(text);
  for (const pre of wrap.querySelectorAll('pre')) {
    const code = pre.querySelector('code') ?? pre;
    const block = document.createElement('div');
    block.className = 'code-block';
    pre.replaceWith(block);
    block.append(copyButton(code), pre);
  }
  return wrap;
}
