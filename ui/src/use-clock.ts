import { useEffect, useState } from 'preact/hooks';

/** Returns the current time in epoch milliseconds, re-rendering every `intervalMs`. */
export function useClock(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
