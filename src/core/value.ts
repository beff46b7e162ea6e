// Evaluated keyword values.

/** A converted keyword value as providers see it. */
export type KwValue = string | number | boolean | readonly string[] | null;

/** Values a provider reports after provision/start (loop device, allocated address...). */
export type Outputs = Readonly<Record<string, string | number | boolean | readonly string[]>>;

/** Marker for values only known after apply (plans render "(known after apply)"). */
export const KNOWN_AFTER_APPLY = "(known after apply)";
