// Command line entry: `npm run emulator -- --port N [--scenario FILE] [--no-pacing]`.

import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { startEmulator } from './index.js';

const USAGE = `Usage: npm run emulator -- [--port N] [--scenario FILE] [--no-pacing] [--agent-version V]

  --port N            TCP port on 127.0.0.1 (default 0: a free port)
  --scenario FILE     scenario JSON: credentials, instances, databases, session policy
  --no-pacing         send agent data without the real agent's 1 ms pause per 1 KiB message
  --agent-version V   agent version of instances the scenario does not list (default 3.3.987.0)
  --verbose           log sessions and errors to stderr`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      scenario: { type: 'string' },
      'no-pacing': { type: 'boolean', default: false },
      'agent-version': { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid --port ${values.port}: expected a number from 0 to 65535\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const logger = values.verbose ? pino({ level: 'info' }, pino.destination(2)) : undefined;
  const emulator = await startEmulator({
    port,
    scenario: values.scenario,
    pacing: !values['no-pacing'],
    agentVersion: values['agent-version'],
    logger,
  });
  const credentials = emulator.state.scenario.credentials;
  const example = credentials[0]?.accessKeyId ?? 'AKIAEMULATOREXAMPLE';
  console.log(`SSM emulator listening on ${emulator.url}`);
  console.log(
    credentials.length === 0
      ? 'Any access key is accepted, for example:'
      : 'Use one of the scenario credentials, for example:',
  );
  console.log(`  export AWS_ACCESS_KEY_ID=${example}`);
  if (credentials.length === 0 || credentials[0]?.secretAccessKey === undefined) {
    console.log('  export AWS_SECRET_ACCESS_KEY=emulator-secret');
  }
  console.log('  export AWS_REGION=us-east-1');
  console.log(`  endpoint: ${emulator.url}`);
  const instances = emulator.state.scenario.instances.map(
    (i) => `${i.instanceId} (${i.pingStatus})`,
  );
  console.log(`Managed instances: ${instances.join(', ')}`);

  const stop = () => {
    void emulator.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: Error) => {
  console.error(`emulator failed to start: ${error.message}`);
  process.exitCode = 1;
});
