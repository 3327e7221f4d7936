// Port forwarding over SSM Session Manager: start a session, then hand it local sockets.

export { startPortForwardSession, startSessionInput } from './start.js';
export type { StartPortForwardOptions } from './start.js';
export { SsmPortForwardSession } from './session.js';
export { PortForwardError } from './errors.js';
export type { PortForwardErrorCode } from './errors.js';
export { forwardingModeFor, smuxKeepAliveFor, terminateFlagSupported } from './mode.js';
export type * from './types.js';
