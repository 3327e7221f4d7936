import type { ImportPlan } from '../lib/profile-import.js';

interface ImportConfirmProps {
  plan: ImportPlan;
  onReplace: () => void;
  onAddNewOnly: () => void;
  onCancel: () => void;
}

/**
 * Asks before an import replaces local profiles, listing each profile it would replace. Nothing
 * is sent to the daemon until one of the buttons is pressed, and Cancel sends nothing.
 */
export function ImportConfirm({ plan, onReplace, onAddNewOnly, onCancel }: ImportConfirmProps) {
  const replacedCount = plan.replaced.length;
  const addedCount = plan.added.length;
  const profiles = replacedCount === 1 ? 'profile' : 'profiles';
  return (
    <div
      class="banner"
      role="alertdialog"
      aria-labelledby="import-confirm-title"
      data-testid="import-confirm"
    >
      <p id="import-confirm-title">
        <strong>
          The file has {replacedCount} {profiles} with the name of a local profile.
        </strong>{' '}
        Importing {replacedCount === 1 ? 'it replaces that' : 'them replaces those'} local{' '}
        {profiles}, and a running tunnel restarts with the imported settings.
      </p>
      <ul data-testid="import-replaced">
        {plan.replaced.map((entry) => (
          <li key={String(entry.name)}>{String(entry.name)}</li>
        ))}
      </ul>
      <p>
        The file also has {addedCount} new {addedCount === 1 ? 'profile' : 'profiles'}.
      </p>
      <div class="form-actions">
        <button type="button" class="danger" onClick={onReplace}>
          Replace {replacedCount} and add {addedCount}
        </button>
        <button type="button" disabled={addedCount === 0} onClick={onAddNewOnly}>
          Add only the {addedCount} new
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
