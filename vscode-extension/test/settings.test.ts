import * as assert from 'assert';
import { enabledFor, objectReader, serverSettings } from '../src/settings';

describe('serverSettings', () => {
  it('maps every setting the server reads, nesting the dotted ones', () => {
    const { settings, problems } = serverSettings(
      objectReader({
        model: '  ~/models/coder.gguf ',
        threads: 2,
        contextSize: 2048,
        fimLayout: 'spm-tail',
        maxTokens: 48,
        enabled: true,
        languages: { markdown: false, python: true },
        'review.trigger': 'onDemand',
        'tests.run': true,
        'server.command': '/opt/seekcode-lsp',
      }),
    );
    assert.deepStrictEqual(problems, []);
    assert.deepStrictEqual(settings, {
      model: '~/models/coder.gguf',
      threads: 2,
      contextSize: 2048,
      fimLayout: 'spm-tail',
      maxTokens: 48,
      enabled: true,
      languages: { markdown: false, python: true },
      review: { trigger: 'onDemand' },
      tests: { run: true },
    });
  });

  it('maps the remote inference settings, and leaves the defaults out', () => {
    const { settings, problems } = serverSettings(
      objectReader({
        backend: {
          url: ' http://gpu-box:8080 ', apiKeyEnv: 'TEAM_KEY', family: 'qwen2.5-coder', model: 'coder',
          allowInsecure: false, caBundle: '/etc/ca.pem', timeout: 12.5,
        },
      }),
    );
    assert.deepStrictEqual(problems, []);
    assert.deepStrictEqual(settings.backend, {
      url: 'http://gpu-box:8080', apiKeyEnv: 'TEAM_KEY', family: 'qwen2.5-coder', model: 'coder',
      allowInsecure: false, caBundle: '/etc/ca.pem', timeout: 12.5,
    });
    assert.strictEqual(serverSettings(objectReader({ 'backend.url': '' })).settings.backend, undefined);
    const bad = serverSettings(objectReader({ 'backend.family': 'gpt', 'backend.timeout': 0 }));
    assert.strictEqual(bad.settings.backend, undefined);
    assert.strictEqual(bad.problems.length, 2);
    assert.match(bad.problems[0], /seekcode\.backend\.family must be one of auto, plain/);
    assert.match(bad.problems[1], /seekcode\.backend\.timeout must be a number of seconds/);
  });

  it('passes tests.timeout to the server and names a bad one', () => {
    const good = serverSettings(objectReader({ 'tests.run': true, 'tests.timeout': 5 }));
    assert.deepStrictEqual(good.settings.tests, { run: true, timeout: 5 });
    const bad = serverSettings(objectReader({ 'tests.timeout': 0 }));
    assert.strictEqual(bad.settings.tests, undefined);
    assert.match(bad.problems[0], /seekcode\.tests\.timeout must be a number of seconds of at least 1/);
  });

  it('reads nested objects the way VS Code returns a whole section', () => {
    const { settings } = serverSettings(objectReader({ review: { trigger: 'off' }, tests: { run: false } }));
    assert.deepStrictEqual(settings, { review: { trigger: 'off' }, tests: { run: false } });
  });

  it('leaves unset and empty values to the server defaults', () => {
    const { settings, problems } = serverSettings(objectReader({ model: '', threads: null }));
    assert.deepStrictEqual(settings, {});
    assert.deepStrictEqual(problems, []);
  });

  it('drops impossible values with one sentence each, keeping the rest', () => {
    const { settings, problems } = serverSettings(
      objectReader({
        threads: 0,
        contextSize: 100.5,
        fimLayout: 'middle-out',
        'review.trigger': 'always',
        languages: { python: 'yes', go: false },
        maxTokens: 32,
      }),
    );
    assert.deepStrictEqual(settings, { languages: { go: false }, maxTokens: 32 });
    assert.strictEqual(problems.length, 5);
    assert.ok(problems.some((p) => p.startsWith('seekcode.threads') && p.includes('at least 1')));
    assert.ok(problems.some((p) => p.startsWith('seekcode.fimLayout') && p.includes('spm-tail')));
    assert.ok(problems.some((p) => p.startsWith('seekcode.review.trigger') && p.includes('onSave')));
    assert.ok(problems.some((p) => p.startsWith('seekcode.languages.python')));
  });
});

describe('enabledFor', () => {
  it('lets a language switch win over the global one', () => {
    const settings = { enabled: false, languages: { python: true, markdown: false } };
    assert.strictEqual(enabledFor(settings, 'python'), true);
    assert.strictEqual(enabledFor(settings, 'go'), false);
    assert.strictEqual(enabledFor({ languages: { markdown: false } }, 'markdown'), false);
    assert.strictEqual(enabledFor({}, 'rust'), true);
  });
});
