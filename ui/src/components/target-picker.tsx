import { useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../lib/api.js';
import type { ManagedTarget, TargetQuery } from '../lib/types.js';

interface TargetPickerProps {
  api: ApiClient;
  query: TargetQuery;
  onPick: (instanceId: string) => void;
}

/** Lists the online managed instances of a region so one can be picked as the target. */
export function TargetPicker({ api, query, onPick }: TargetPickerProps) {
  const region = query.region.trim();
  const [targets, setTargets] = useState<ManagedTarget[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);

  const load = async () => {
    setLoading(true);
    setError(null);
    try {
      setTargets(await api.listTargets(query));
    } catch (caught) {
      setTargets(null);
      setError(caught instanceof ApiError ? caught.message : String(caught));
    } finally {
      setLoading(false);
    }
  };

  return (
    <div class="target-picker">
      <button type="button" class="small" onClick={load} disabled={loading}>
        {loading ? 'Looking up instances…' : `Find online instances in ${region || 'the region'}`}
      </button>
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      {targets && targets.length === 0 && <p>No online managed instances in {region}.</p>}
      {targets && targets.length > 0 && (
        <ul class="target-list" aria-label="Online managed instances">
          {targets.map((target) => (
            <li key={target.instanceId}>
              <button type="button" class="small" onClick={() => onPick(target.instanceId)}>
                Use {target.instanceId}
              </button>{' '}
              {[
                target.name,
                // Older daemons send no computerName; the Name tag, when present, is `name`.
                target.computerName && target.computerName !== target.name && target.computerName,
                target.platform,
                target.ipAddress,
                target.agentVersion && `agent ${target.agentVersion}`,
              ]
                .filter(Boolean)
                .join(' · ')}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
