/** sessionStorage key of the API token, so a reload keeps working without the fragment. */
export const TOKEN_STORAGE_KEY = 'bastionless.token';

/**
 * Takes the token from a `#token=...` fragment, stores it, and returns it with the fragment
 * to put back in the address bar (without the token, so it is not left in history or in a
 * shared screenshot). Falls back to the stored token when the fragment has none.
 */
export function takeToken(
  hash: string,
  storage: Pick<Storage, 'getItem' | 'setItem'>,
): { token: string | null; cleanedHash: string | null } {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const fromHash = params.get('token');
  if (fromHash) {
    storage.setItem(TOKEN_STORAGE_KEY, fromHash);
    params.delete('token');
    const rest = params.toString();
    return { token: fromHash, cleanedHash: rest ? `#${rest}` : '' };
  }
  return { token: storage.getItem(TOKEN_STORAGE_KEY), cleanedHash: null };
}
