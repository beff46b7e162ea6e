// What `status` / `print status` columns mean: shown in their --help and with --verbose.
export const STATUS_LEGEND = `Flags (8 columns, "." when not set):
  R  an action is running on the resource
  M  monitored (monitor = true)
  D  disabled (disable = true): not acted on, status n/a
  O  optional (optional = true): its status does not count in avail
  E  encapsulated (encap = true)
  P  not provisioned, as recorded by osvc ("/": no provisioner for it)
  S  standby (standby = true): kept up on every node
  n  restarts left on failure (restart = n; "+" for 10 or more)
Status: up, down, warn (up with a problem), stdby up/down (a standby resource), n/a (disabled),
  undef (no provider for its driver on this host). avail merges the resources that are not
  optional (sync and task excluded), overall merges them all.
`;
