import * as assert from 'assert';
import { parseMinutes, SuggestionGate } from '../src/gate';

describe('SuggestionGate', () => {
  it('snoozes for the given minutes, then allows again', () => {
    let now = 1_000_000;
    const gate = new SuggestionGate({}, () => now);
    assert.strictEqual(gate.allows('python'), true);
    const end = gate.snooze(15);
    assert.strictEqual(end, 1_000_000 + 15 * 60_000);
    assert.strictEqual(gate.allows('python'), false);
    assert.strictEqual(gate.snoozeEnd(), end);
    now = end - 1;
    assert.strictEqual(gate.allows('python'), false);
    now = end;
    assert.strictEqual(gate.allows('python'), true);
    assert.strictEqual(gate.snoozeEnd(), undefined);
  });

  it('resumes early and follows setting updates per language', () => {
    const gate = new SuggestionGate({ languages: { markdown: false } });
    gate.snooze(60);
    gate.resume();
    assert.strictEqual(gate.allows('python'), true);
    assert.strictEqual(gate.allows('markdown'), false);
    gate.update({ enabled: false });
    assert.strictEqual(gate.allows('python'), false);
  });
});

describe('parseMinutes', () => {
  it('accepts positive numbers only', () => {
    assert.strictEqual(parseMinutes(' 25 '), 25);
    assert.strictEqual(parseMinutes('2.5'), 2.5);
    for (const bad of ['', '0', '-5', 'ten', '5m']) {
      assert.strictEqual(parseMinutes(bad), undefined, bad);
    }
  });
});
