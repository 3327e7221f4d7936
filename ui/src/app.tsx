import { useState } from 'preact/hooks';
import { Banner } from './components/banner.js';
import { ConfigBanner } from './components/config-banner.js';
import { MfaPrompt } from './components/mfa-prompt.js';
import { ProfilesView } from './components/profiles-view.js';
import { TunnelsView } from './components/tunnels-view.js';
import { connectionIndicator, isDaemonLost } from './lib/daemon-problem.js';
import { takeToken } from './lib/token.js';
import { useDaemon } from './use-daemon.js';

type View = 'tunnels' | 'profiles';

const VIEWS: [View, string][] = [
  ['tunnels', 'Tunnels'],
  ['profiles', 'Profiles'],
];

function readToken(): string | null {
  const { token, cleanedHash } = takeToken(location.hash, sessionStorage);
  if (cleanedHash !== null) {
    history.replaceState(null, '', `${location.pathname}${location.search}${cleanedHash}`);
  }
  return token;
}

export function App() {
  const [token] = useState(readToken);
  if (!token) {
    return (
      <main class="page">
        <h1>bastionless</h1>
        <p class="notice" role="alert">
          This page needs the daemon's access token. Open it with <code>bastionless dashboard</code>
          , which prints the address with the token, or from the tray menu.
        </p>
      </main>
    );
  }
  return <Dashboard token={token} />;
}

function Dashboard({ token }: { token: string }) {
  const daemon = useDaemon(token);
  const [view, setView] = useState<View>('tunnels');
  const indicator = connectionIndicator(daemon.streamStatus, daemon.problem);
  return (
    <div class="page">
      <header class="topbar">
        <h1>bastionless</h1>
        <nav aria-label="Views">
          {VIEWS.map(([id, label]) => (
            <button
              key={id}
              type="button"
              class="tab"
              aria-pressed={view === id}
              onClick={() => setView(id)}
            >
              {label}
            </button>
          ))}
        </nav>
        <span class={`live live-${indicator.tone}`} data-testid="stream-status">
          {indicator.label}
        </span>
      </header>
      {daemon.problem && <Banner problem={daemon.problem} />}
      {daemon.configProblem && !isDaemonLost(daemon.problem) && (
        <ConfigBanner problem={daemon.configProblem} />
      )}
      <MfaPrompt
        api={daemon.api}
        requests={daemon.mfaRequests}
        onAnswered={daemon.forgetMfaRequest}
      />
      <main>
        {view === 'tunnels' ? <TunnelsView daemon={daemon} /> : <ProfilesView daemon={daemon} />}
      </main>
    </div>
  );
}
