// Saving and restoring process.env around tests that point the AWS SDK at a temporary home.

/**
 * Removes `keys` from process.env and returns a function that puts back the values they had,
 * deleting those that were unset.
 */
export function clearEnv(keys: readonly string[]): () => void {
  const saved = new Map(keys.map((key) => [key, process.env[key]]));
  for (const key of keys) {
    delete process.env[key];
  }
  return () => {
    for (const [key, value] of saved) {
      if (value === undefined) {
        delete process.env[key];
      } else {
        process.env[key] = value;
      }
    }
  };
}
