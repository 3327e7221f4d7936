/** Shows a full-width alert while the daemon does not respond. */
export function Banner({ message }: { message: string }) {
  return (
    <div class="banner" role="alert" data-testid="unreachable-banner">
      <strong>The daemon is unreachable.</strong> {message} The page retries on its own; if the
      daemon is not running, start it with <code>bastionless start</code>.
    </div>
  );
}
