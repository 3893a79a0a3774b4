// Whether to ask for ghost text now: the settings' switches plus a snooze kept in memory.
// No vscode import, so plain mocha tests it.
import { enabledFor, ServerSettings } from './settings';

export class SuggestionGate {
  private snoozedUntil = 0;

  constructor(private settings: ServerSettings = {}, private readonly now: () => number = Date.now) {}

  update(settings: ServerSettings): void {
    this.settings = settings;
  }

  snooze(minutes: number): number {
    this.snoozedUntil = this.now() + minutes * 60_000;
    return this.snoozedUntil;
  }

  resume(): void {
    this.snoozedUntil = 0;
  }

  /** End of the snooze in ms since the epoch, or undefined when not snoozed. */
  snoozeEnd(): number | undefined {
    return this.now() < this.snoozedUntil ? this.snoozedUntil : undefined;
  }

  allows(languageId: string): boolean {
    return this.snoozeEnd() === undefined && enabledFor(this.settings, languageId);
  }
}

/** "25" -> 25; empty, zero, negative or non-numbers -> undefined. */
export function parseMinutes(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) {
    return undefined;
  }
  const minutes = Number(trimmed);
  return minutes > 0 ? minutes : undefined;
}
