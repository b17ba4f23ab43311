/**
 * A deterministic stand-in for ChatCore's language model: the same prompt
 * always gets the same answer, computed locally (no network, no key), after
 * an optional delay like a real model's. `calls` counts real calls, so tests
 * and the demo can see what the `ai_cache:{hash}` cache saved.
 */
import { createHash } from 'node:crypto';

export interface AiModel {
  readonly name: string;
  /** Calls made so far (cache misses). */
  readonly calls: number;
  answer(prompt: string): Promise<string>;
}

const OPENINGS = ['Short answer:', 'From the company documents:', 'In brief:', 'Here is what I found:'];

export function createLocalModel(options: { latencyMs?: number; name?: string } = {}): AiModel {
  let calls = 0;
  return {
    name: options.name ?? 'chatcore-local-1',
    get calls() {
      return calls;
    },
    async answer(prompt) {
      calls++;
      if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));
      const digest = createHash('sha256').update(prompt).digest();
      const words = prompt.trim().split(/\s+/).filter(Boolean);
      const topic = words.slice(-3).join(' ') || 'that';
      return `${OPENINGS[digest[0]! % OPENINGS.length]} about "${topic}", reference #${digest.readUInt32BE(1).toString(16)}.`;
    },
  };
}

/** The AI cache's key part: SHA-256 (hex) of the model name and the prompt, so another model never reuses an answer. */
export function promptHash(model: string, prompt: string): string {
  return createHash('sha256')
    .update(JSON.stringify([model, prompt]))
    .digest('hex');
}
