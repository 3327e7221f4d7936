import { useRef } from 'preact/hooks';
import { exportProfiles, parseProfileImport, type ImportResult } from '../lib/profile-io.js';
import type { Profile } from '../lib/types.js';

interface ProfileTransferProps {
  profiles: Profile[];
  /** True while the daemon is lost or an import waits, which disables both buttons. */
  disabled: boolean;
  /** Called with the parsed file, before anything is sent to the daemon. */
  onParsed: (result: ImportResult) => void;
}

/** Offers import (file picker) and export (download) of profiles as JSON. */
export function ProfileTransfer({ profiles, disabled, onParsed }: ProfileTransferProps) {
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
    onParsed(parseProfileImport(await file.text()));
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
