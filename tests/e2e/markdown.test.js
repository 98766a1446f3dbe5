// Markdown in agent and user messages (host/web/render.js): it renders, it cannot inject HTML
// or script, and the agent's answer is never folded while tool output is.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, openPage, startStandIn } from './support.js';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function withStandIn(messages, body) {
  const standIn = await startStandIn('fixture', messages.map((m, idx) => ({ ...m, idx, timestamp: '2026-01-01T12:00:00Z' })));
  const page = await openPage(browser, standIn.url);
  try {
    await page.locator('#timeline > li').nth(messages.length - 1).waitFor();
    await body(page);
    assert.deepEqual(page.errors, []);
  } finally {
    await page.close();
    await standIn.close();
  }
}

const RICH = [
  '# Plan',
  '',
  'Some *emphasis*, **strong** and `inline code`.',
  '',
  '- one',
  '- two',
  '',
  '1. first',
  '2. second',
  '',
  'See [the docs](https://example.com/docs) or https://example.org.',
  '',
  '```rust',
  'fn main() {}',
  '```',
].join('\n');

test('agent and user markdown renders: headings, emphasis, lists, links, code with copy', async () => {
  await withStandIn(
    [
      { type: 'user', content: 'Please **fix** `parse()`' },
      { type: 'agent', content: RICH, end_of_turn: true },
    ],
    async (page) => {
      const user = page.locator('#timeline > li[data-type="user"] .markdown');
      assert.equal(await user.locator('strong').textContent(), 'fix');
      assert.equal(await user.locator('code').textContent(), 'parse()');

      const agent = page.locator('#timeline > li[data-type="agent"] .markdown');
      assert.equal(await agent.locator('h1').textContent(), 'Plan');
      assert.equal(await agent.locator('em').textContent(), 'emphasis');
      assert.equal(await agent.locator('strong').textContent(), 'strong');
      assert.equal(await agent.locator('ul > li').count(), 2);
      assert.equal(await agent.locator('ol > li').count(), 2);
      const links = agent.locator('a');
      assert.equal(await links.count(), 2);
      for (let i = 0; i < 2; i += 1) {
        assert.equal(await links.nth(i).getAttribute('rel'), 'noopener noreferrer');
      }
      assert.equal(await links.nth(0).getAttribute('href'), 'https://example.com/docs');
      assert.equal(await links.nth(1).getAttribute('href'), 'https://example.org');

      const block = agent.locator('.code-block');
      assert.equal(await block.locator('pre code').textContent(), 'fn main() {}\n');
      await browser.grantPermissions(['clipboard-read', 'clipboard-write'], {
        origin: new URL(page.url()).origin,
      });
      const copy = block.locator('button.copy-code');
      await copy.click();
      await page.waitForFunction(() => document.querySelector('.copy-code')?.textContent === 'Copied');
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'fn main() {}\n');
    },
  );
});

test('markdown cannot inject HTML, script or javascript: links', async () => {
  const evil = [
    'Hi <img src=x onerror="window.pwned=1"> and <script>window.pwned=2</script>',
    '',
    '<div onmouseover="window.pwned=3">block html</div>',
    '',
    '[click](javascript:window.pwned=4) [data](data:text/html,<b>x</b>) [vb](vbscript:x)',
    '',
    '![pixel](https://example.com/p.png) <a href="javascript:window.pwned=5">raw</a>',
    '',
    '[ok](mailto:someone@example.com)',
  ].join('\n');
  await withStandIn(
    [
      { type: 'user', content: evil },
      { type: 'agent', content: evil },
    ],
    async (page) => {
      for (const type of ['user', 'agent']) {
        const md = page.locator(`#timeline > li[data-type="${type}"] .markdown`);
        assert.equal(await md.locator('img, script, div, b, iframe').count(), 0);
        const text = await md.textContent();
        assert.match(text, /<img src=x onerror=/);
        assert.match(text, /<script>/);
        // Only https and mailto targets become links (an image is a plain link, never loaded);
        // javascript:, data: and vbscript: stay text.
        const hrefs = await md.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
        assert.deepEqual(hrefs, ['https://example.com/p.png', 'mailto:someone@example.com']);
        assert.match(text, /\[click\]\(javascript:/);
        assert.equal(await md.locator('[onerror], [onmouseover], [onclick]').count(), 0);
      }
      await page.locator('#timeline > li[data-type="agent"] .markdown p').first().hover();
      assert.equal(await page.evaluate(() => window.pwned), undefined);
    },
  );
});

test('a long agent answer is never folded; long tool output is', async () => {
  const long = Array.from({ length: 400 }, (_, i) => `Paragraph line ${i}.`).join('\n\n');
  await withStandIn(
    [
      { type: 'agent', content: long, tool_calls: [{ name: 'bash', input: '{"command":"ls"}' }] },
      {
        type: 'tool',
        tool_name: 'bash',
        input: '{"command":"ls"}',
        tool_result: Array.from({ length: 400 }, (_, i) => `file_${i}`).join('\n'),
      },
    ],
    async (page) => {
      const agent = page.locator('#timeline > li[data-type="agent"]');
      assert.equal(await agent.locator('.fold, .fold-toggle').count(), 0);
      assert.equal(await agent.locator('.markdown p').count(), 400);
      assert.match(await agent.textContent(), /Paragraph line 399\./);

      const tool = page.locator('#timeline > li[data-type="tool"]');
      await tool.locator('summary').click();
      const output = tool.locator('.fold').last();
      assert.match(await output.getAttribute('class'), /folded/);
      assert.doesNotMatch(await output.locator('pre').textContent(), /file_399/);
      assert.equal(await output.locator('.fold-toggle').count(), 1);
    },
  );
});
