import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError } from '../lib/api.js';
import { isDaemonLost, problemFromError } from '../lib/daemon-problem.js';
import {
  duplicateName,
  EMPTY_FORM,
  nextUnusedPort,
  profileToForm,
  type ProfileForm,
} from '../lib/profile-form.js';
import type { ImportResult } from '../lib/profile-io.js';
import { applyImport, planImport, type ImportPlan } from '../lib/profile-import.js';
import type { Profile } from '../lib/types.js';
import { trayBridge } from '../tray-bridge.js';
import type { DaemonConnection } from '../use-daemon.js';
import { ImportConfirm } from './import-confirm.js';
import { ProfileEditor } from './profile-editor.js';
import { ProfileTransfer } from './profile-transfer.js';

/** Editor target: a new profile, or the stored profile named `original`. */
interface Editing {
  form: ProfileForm;
  original: Profile | null;
}

/** A status line above the profile list, with one list item per problem in `details`. */
interface StatusMessage {
  text: string;
  details?: string[];
  error: boolean;
}

/** Lists profiles with create, edit, duplicate, delete, import and export. */
export function ProfilesView({ daemon }: { daemon: DaemonConnection }) {
  const [profiles, setProfiles] = useState<Profile[]>([]);
  const [editing, setEditing] = useState<Editing | null>(null);
  const [confirmDelete, setConfirmDelete] = useState<string | null>(null);
  const [message, setMessage] = useState<StatusMessage | null>(null);
  const [pendingImport, setPendingImport] = useState<ImportPlan | null>(null);
  const tray = trayBridge();
  // Like the tunnel cards, no control that needs the daemon works while it is lost. The banner
  // above the views names the problem, and the tray's config file button stays, because editing
  // the file by hand is one way to fix a daemon that does not start.
  const daemonLost = isDaemonLost(daemon.problem);

  const load = useCallback(async () => {
    try {
      const list = await daemon.api.listProfiles();
      setProfiles([...list].sort((a, b) => a.name.localeCompare(b.name)));
    } catch (error) {
      daemon.reportError(error);
      // The banner already names an unreachable daemon or a rejected token.
      if (error instanceof ApiError && !isDaemonLost(problemFromError(error))) {
        setMessage({ text: error.message, error: true });
      }
    }
  }, [daemon.api, daemon.reportError]);

  // Reloads after each load of the config file too, so edits made elsewhere show at once.
  useEffect(() => void load(), [load, daemon.configVersion]);

  const remove = async (name: string) => {
    setConfirmDelete(null);
    try {
      await daemon.api.deleteProfile(name);
      setMessage({ text: `Deleted profile "${name}".`, error: false });
      await load();
      await daemon.refresh();
    } catch (error) {
      daemon.reportError(error);
      if (error instanceof ApiError) setMessage({ text: error.message, error: true });
    }
  };

  const duplicate = (profile: Profile) => {
    const taken = new Set(profiles.map((entry) => entry.name));
    const usedPorts = new Set(profiles.map((entry) => entry.localPort));
    const form = {
      ...profileToForm(profile),
      name: duplicateName(profile.name, taken),
      localPort: String(nextUnusedPort(profile.localPort, usedPorts)),
    };
    setEditing({ form, original: null });
  };

  const runImport = async (plan: ImportPlan, replace: boolean) => {
    setPendingImport(null);
    const outcome = await applyImport(daemon.api, plan, replace);
    setMessage({ text: outcome.summary, details: outcome.details, error: outcome.failed });
    await load();
    await daemon.refresh();
  };

  // Asks first when the file would replace local profiles, so an import never overwrites one
  // silently.
  const startImport = (parsed: ImportResult) => {
    const plan = planImport(
      parsed,
      profiles.map((profile) => profile.name),
    );
    if (plan.added.length === 0 && plan.replaced.length === 0) {
      setMessage({ text: 'No profile was imported.', details: plan.errors, error: true });
    } else if (plan.replaced.length > 0) {
      setMessage(null);
      setPendingImport(plan);
    } else {
      void runImport(plan, false);
    }
  };

  const saved = async (name: string) => {
    setEditing(null);
    setMessage({ text: `Saved profile "${name}".`, error: false });
    await load();
    await daemon.refresh();
  };

  if (editing) {
    return (
      <ProfileEditor
        api={daemon.api}
        initial={editing.form}
        original={editing.original}
        daemonLost={daemonLost}
        onSaved={saved}
        onCancel={() => setEditing(null)}
      />
    );
  }

  return (
    <section class="profiles" aria-disabled={daemonLost}>
      <div class="group-head">
        <h2>Profiles</h2>
        <div class="group-actions">
          <button
            type="button"
            class="primary"
            disabled={daemonLost}
            onClick={() => setEditing({ form: { ...EMPTY_FORM }, original: null })}
          >
            New profile
          </button>
          {tray && (
            <button
              type="button"
              onClick={async () => {
                const problem = await tray.openConfigFile();
                if (problem) setMessage({ text: problem, error: true });
              }}
            >
              Open config file
            </button>
          )}
          <ProfileTransfer
            profiles={profiles}
            disabled={daemonLost || pendingImport !== null}
            onParsed={startImport}
          />
        </div>
      </div>
      {pendingImport && (
        <ImportConfirm
          plan={pendingImport}
          onReplace={() => void runImport(pendingImport, true)}
          onAddNewOnly={() => void runImport(pendingImport, false)}
          onCancel={() => {
            setPendingImport(null);
            setMessage({ text: 'Import cancelled. No profile was changed.', error: false });
          }}
        />
      )}
      {message && (
        <div class={message.error ? 'error-text' : 'ok-text'} role="status">
          <p>{message.text}</p>
          {message.details && message.details.length > 0 && (
            <ul data-testid="status-details">
              {message.details.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      {profiles.length === 0 && daemonLost && (
        <p data-testid="profiles-unknown">
          Profiles unknown: the dashboard cannot reach the daemon.
        </p>
      )}
      {profiles.length === 0 && !daemonLost && (
        <p>No profiles yet. Create one with New profile or import a file.</p>
      )}
      {profiles.length > 0 && (
        <table class="profile-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Groups</th>
              <th scope="col">Target</th>
              <th scope="col">Remote</th>
              <th scope="col">Local port</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {profiles.map((profile) => (
              <tr key={profile.name} data-profile={profile.name}>
                <th scope="row">{profile.name}</th>
                <td>{profile.groups.join(', ') || '–'}</td>
                <td>{profileToForm(profile).target}</td>
                <td>
                  {profile.remoteHost ?? 'the target itself'}:{profile.remotePort}
                </td>
                <td>{profile.localPort}</td>
                <td class="row-actions">
                  <button
                    type="button"
                    class="small"
                    disabled={daemonLost}
                    onClick={() => setEditing({ form: profileToForm(profile), original: profile })}
                  >
                    Edit
                  </button>
                  <button
                    type="button"
                    class="small"
                    disabled={daemonLost}
                    onClick={() => duplicate(profile)}
                  >
                    Duplicate
                  </button>
                  {confirmDelete === profile.name ? (
                    <button
                      type="button"
                      class="small danger"
                      disabled={daemonLost}
                      onClick={() => remove(profile.name)}
                    >
                      Confirm delete
                    </button>
                  ) : (
                    <button
                      type="button"
                      class="small"
                      disabled={daemonLost}
                      onClick={() => setConfirmDelete(profile.name)}
                    >
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
