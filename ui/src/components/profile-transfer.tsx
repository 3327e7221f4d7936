import { useRef } from 'preact/hooks';
import { ApiError, type ApiClient } from '../lib/api.js';
import { exportProfiles, parseProfileImport } from '../lib/profile-io.js';
import type { Profile } from '../lib/types.js';

interface ProfileTransferProps {
  api: ApiClient;
  profiles: Profile[];
  /** True while the daemon is lost, which disables both buttons. */
  disabled: boolean;
  /** Called with a one-line summary once an import finished. */
  onImported: (summary: string, failed: boolean) => void;
}

/** Offers import (file picker) and export (download) of profiles as JSON. */
export function ProfileTransfer({ api, profiles, disabled, onImported }: ProfileTransferProps) {
  const fileInput = useRef<HTMLInputElement>(null);

  const download = () => {
    const blob = new Blob([exportProfiles(profiles)], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = 'bastionless-profiles.json';
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  const importFile = async (file: File) => {
    const { profiles: entries, errors } = parseProfileImport(await file.text());
    const existing = new Set(profiles.map((profile) => profile.name));
    let saved = 0;
    for (const entry of entries) {
      const name = entry.name as string;
      try {
        if (existing.has(name)) await api.updateProfile(name, entry);
        else await api.createProfile(entry);
        saved += 1;
      } catch (error) {
        const fields = error instanceof ApiError ? error.fields : [];
        const detail = fields.length
          ? fields.map((field) => `${field.path}: ${field.message}`).join('; ')
          : (error as Error).message;
        errors.push(`Profile "${name}" was not saved: ${detail}`);
      }
    }
    const summary = `Imported ${saved} of ${entries.length} profiles.`;
    onImported([summary, ...errors].join(' '), errors.length > 0);
  };

  return (
    <>
      <button type="button" disabled={disabled} onClick={() => fileInput.current?.click()}>
        Import…
      </button>
      <input
        ref={fileInput}
        type="file"
        accept="application/json,.json"
        class="visually-hidden"
        aria-label="Import profiles from a JSON file"
        tabIndex={-1}
        onChange={(event) => {
          const input = event.currentTarget;
          const file = input.files?.[0];
          input.value = '';
          if (file) void importFile(file);
        }}
      />
      <button type="button" onClick={download} disabled={disabled || profiles.length === 0}>
        Export
      </button>
    </>
  );
}
