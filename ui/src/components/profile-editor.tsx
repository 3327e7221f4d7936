import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../lib/api.js';
import {
  fieldErrorsByField,
  formToProfileBody,
  type FormField,
  type ProfileForm,
} from '../lib/profile-form.js';
import type { Profile } from '../lib/types.js';
import { TargetPicker } from './target-picker.js';

interface ProfileEditorProps {
  api: ApiClient;
  initial: ProfileForm;
  /** The stored profile being edited, or null to create a new one. */
  original: Profile | null;
  /** True while the daemon does not respond or rejects the token, which disables Save. */
  daemonLost: boolean;
  onSaved: (name: string) => void;
  onCancel: () => void;
}

type Errors = Partial<Record<FormField, string[]>>;

/** Edits one profile. The daemon validates it, and its field errors show next to each field. */
export function ProfileEditor({
  api,
  initial,
  original,
  daemonLost,
  onSaved,
  onCancel,
}: ProfileEditorProps) {
  const [form, setForm] = useState<ProfileForm>(initial);
  const [errors, setErrors] = useState<Errors>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [saving, setSaving] = useState(false);

  const set = <K extends FormField>(key: K, value: ProfileForm[K]) =>
    setForm((current) => ({ ...current, [key]: value }));

  const submit = async (event: Event) => {
    event.preventDefault();
    setSaving(true);
    setErrors({});
    setGeneral([]);
    const body = formToProfileBody(form);
    try {
      if (original) await api.updateProfile(original.name, body);
      else await api.createProfile(body);
      onSaved(String(body.name));
    } catch (error) {
      if (error instanceof ApiError && error.fields.length > 0) {
        const { byField, other } = fieldErrorsByField(error.fields);
        setErrors(byField);
        // The daemon's message repeats the first field error, which already shows at its field.
        const summary =
          Object.keys(byField).length > 0
            ? `The daemon rejected the profile (${error.code}); correct the marked fields.`
            : error.message;
        setGeneral([summary, ...other]);
      } else {
        setGeneral([(error as Error).message]);
      }
    } finally {
      setSaving(false);
    }
  };

  const text = (key: FormField, label: string, props: Record<string, unknown> = {}) => (
    <Field id={key} label={label} errors={errors[key]}>
      <input
        id={`field-${key}`}
        name={key}
        value={form[key] as string}
        aria-invalid={errors[key] ? true : undefined}
        aria-describedby={errors[key] ? `error-${key}` : undefined}
        onInput={(event) => set(key, event.currentTarget.value as never)}
        {...props}
      />
    </Field>
  );

  const check = (key: FormField, label: string) => (
    <Field id={key} label={label} errors={errors[key]} inline>
      <input
        id={`field-${key}`}
        name={key}
        type="checkbox"
        checked={form[key] as boolean}
        onChange={(event) => set(key, event.currentTarget.checked as never)}
      />
    </Field>
  );

  const title = original ? `Edit profile "${original.name}"` : 'New profile';
  return (
    <form class="editor" onSubmit={submit} noValidate aria-labelledby="editor-title">
      <h2 id="editor-title">{title}</h2>
      {general.length > 0 && (
        <div class="error-text" role="alert" data-testid="form-errors">
          {general.map((line) => (
            <p key={line}>{line}</p>
          ))}
        </div>
      )}
      <fieldset>
        <legend>Tunnel</legend>
        {text('name', 'Name', { required: true, autocomplete: 'off' })}
        {text('groups', 'Groups (comma-separated)')}
        {text('localPort', 'Local port', { inputMode: 'numeric' })}
        {text('bindAddress', 'Bind address')}
        {check('allowNonLoopback', 'Allow a non-loopback bind address')}
        <Field id="mode" label="Mode" errors={errors.mode}>
          <select
            id="field-mode"
            name="mode"
            value={form.mode}
            onChange={(event) => set('mode', event.currentTarget.value as ProfileForm['mode'])}
          >
            <option value="on-demand">On demand (opens on first connection)</option>
            <option value="always-on">Always on</option>
          </select>
        </Field>
        {check('autoStart', 'Start with the daemon')}
        {check('keepAlive', 'Keep idle sessions open')}
      </fieldset>
      <fieldset>
        <legend>Destination</legend>
        {text('region', 'AWS region')}
        {text('awsProfile', 'AWS profile (optional)')}
        {text('endpoint', 'AWS endpoint URL for every service (optional)')}
        <p class="field-note">
          Sets the endpoint of SSM, STS, EC2, RDS and ElastiCache, like the CLI's{' '}
          <code>--endpoint-url</code>.
        </p>
        {Object.keys(form.serviceEndpoints).length > 0 && (
          <ServiceEndpoints
            endpoints={form.serviceEndpoints}
            replaced={form.endpoint.trim() !== ''}
            onClear={() => set('serviceEndpoints', {})}
          />
        )}
        {text('target', 'Target (instance id, or Key=Value tags)', { autocomplete: 'off' })}
        <TargetPicker
          api={api}
          query={{
            region: form.region.trim(),
            endpoint: form.endpoint.trim() || form.serviceEndpoints.ssm || undefined,
            awsProfile: form.awsProfile.trim() || undefined,
          }}
          onPick={(instanceId) => set('target', instanceId)}
        />
        {text('remoteHost', 'Remote host (empty: the target itself)')}
        {text('remotePort', 'Remote port', { inputMode: 'numeric' })}
        {text('sessionPool', 'Parallel sessions (1 to 8)', { inputMode: 'numeric' })}
      </fieldset>
      <div class="form-actions">
        <button type="submit" class="primary" disabled={saving || daemonLost}>
          {saving ? 'Saving…' : 'Save'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

interface ServiceEndpointsProps {
  endpoints: Record<string, string>;
  /** True while the form's endpoint URL is set, which replaces these on save. */
  replaced: boolean;
  onClear: () => void;
}

/** Lists a stored profile's endpoints that differ per service, which saving keeps. */
function ServiceEndpoints({ endpoints, replaced, onClear }: ServiceEndpointsProps) {
  return (
    <div class="service-endpoints" data-testid="service-endpoints">
      <p>
        {replaced
          ? 'Saving replaces these endpoints per service with the URL above:'
          : 'Endpoints per service, which saving keeps:'}
      </p>
      <ul>
        {Object.entries(endpoints).map(([service, url]) => (
          <li key={service}>
            {service}: <code>{url}</code>
          </li>
        ))}
      </ul>
      <button type="button" class="small" onClick={onClear}>
        Remove endpoints per service
      </button>
    </div>
  );
}

interface FieldProps {
  id: FormField;
  label: string;
  errors?: string[];
  inline?: boolean;
  children: ComponentChildren;
}

function Field({ id, label, errors, inline, children }: FieldProps) {
  return (
    <div class={`field${inline ? ' inline' : ''}${errors ? ' invalid' : ''}`}>
      <label for={`field-${id}`}>{label}</label>
      {children}
      {errors && (
        <p class="field-error" id={`error-${id}`} data-testid={`error-${id}`}>
          {errors.join(' ')}
        </p>
      )}
    </div>
  );
}
