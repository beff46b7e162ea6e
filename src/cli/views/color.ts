// Colors honour NO_COLOR, FORCE_COLOR, --color=auto|always|never and TTY detection.
import pc from "picocolors";

export type ColorMode = "auto" | "always" | "never";

export type Colors = ReturnType<typeof pc.createColors>;

export function colorsFor(mode: ColorMode | undefined, stream: NodeJS.WriteStream): Colors {
  const m = mode ?? "auto";
  let on: boolean;
  if (m === "always") on = true;
  else if (m === "never") on = false;
  else if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "") on = false;
  else if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== "0") on = true;
  else on = Boolean(stream.isTTY) && process.env.TERM !== "dumb";
  return pc.createColors(on);
}
