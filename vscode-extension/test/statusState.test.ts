import * as assert from 'assert';
import { modelLabel, present } from '../src/statusState';

describe('status bar text', () => {
  it('shows the model name without folders or .gguf', () => {
    assert.strictEqual(modelLabel('/home/me/models/qwen2.5-coder-0.5b-q4_k_m.gguf'), 'qwen2.5-coder-0.5b-q4_k_m');
    assert.strictEqual(modelLabel(undefined), 'bundled model');
  });

  it('spins while working and marks errors, which open the log', () => {
    const working = present({ kind: 'working', model: 'coder', title: 'seekcode: loading model' });
    assert.match(working.text, /~spin/);
    assert.strictEqual(working.tooltip, 'seekcode: loading model (coder)');
    const error = present({ kind: 'error', message: 'seekcode-lsp was not found.' });
    assert.strictEqual(error.error, true);
    assert.match(error.tooltip, /not found\. Click to show the log/);
    assert.strictEqual(present({ kind: 'idle', model: 'coder' }).error, false);
  });
});
