import { describe, expect, it } from 'vitest';
import { takeToken, TOKEN_STORAGE_KEY } from '../../ui/src/lib/token.js';

function memoryStorage(initial: Record<string, string> = {}) {
  const values = new Map(Object.entries(initial));
  return {
    values,
    getItem: (key: string) => values.get(key) ?? null,
    setItem: (key: string, value: string) => void values.set(key, value),
  };
}

describe('takeToken', () => {
  it('stores the fragment token and removes it from the hash', () => {
    const storage = memoryStorage();
    const result = takeToken('#token=abc123', storage);
    expect(result).toEqual({ token: 'abc123', cleanedHash: '' });
    expect(storage.values.get(TOKEN_STORAGE_KEY)).toBe('abc123');
  });

  it('keeps other fragment parameters', () => {
    const result = takeToken('#view=profiles&token=abc', memoryStorage());
    expect(result.cleanedHash).toBe('#view=profiles');
  });

  it('falls back to the stored token', () => {
    const storage = memoryStorage({ [TOKEN_STORAGE_KEY]: 'stored' });
    expect(takeToken('', storage)).toEqual({ token: 'stored', cleanedHash: null });
  });

  it('prefers a new fragment token over the stored one', () => {
    const storage = memoryStorage({ [TOKEN_STORAGE_KEY]: 'old' });
    expect(takeToken('#token=new', storage).token).toBe('new');
    expect(storage.values.get(TOKEN_STORAGE_KEY)).toBe('new');
  });

  it('returns null when there is no token anywhere', () => {
    expect(takeToken('#other=1', memoryStorage())).toEqual({ token: null, cleanedHash: null });
  });
});
