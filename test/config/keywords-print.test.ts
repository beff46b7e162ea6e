import { describe, expect, it } from "vitest";
import { BUILTIN_DRIVER_SPECS } from "../../providers/catalog.js";
import { DEFAULT_KEYWORDS, GENERIC_RESOURCE_KEYWORDS } from "../../src/config/keywords/generic.js";
import { formatKeywords } from "../../src/config/keywords/print.js";

function text(driver?: string): string {
  const r = formatKeywords(BUILTIN_DRIVER_SPECS, GENERIC_RESOURCE_KEYWORDS, DEFAULT_KEYWORDS, driver);
  if ("error" in r) throw new Error(r.error);
  return r.text;
}

function error(driver: string): string {
  const r = formatKeywords(BUILTIN_DRIVER_SPECS, GENERIC_RESOURCE_KEYWORDS, DEFAULT_KEYWORDS, driver);
  if (!("error" in r)) throw new Error("expected an error");
  return r.error;
}

describe("formatKeywords", () => {
  it("lists the drivers, sorted, with alias notes and a usage line", () => {
    const t = text();
    const lines = t.split("\n");
    expect(lines[0]).toMatch(/^DRIVER\s+DESCRIPTION$/);
    expect(t).toMatch(/^disk\.lvm\s+\(alias of disk\.vg\) /m);
    expect(t).toMatch(/^volume\s+A volume object/m);
    expect(t).toContain("osvc keywords <driver>");
    const ids = lines.slice(1).filter((l) => /^[a-z]/.test(l) && !l.startsWith("of ")).map((l) => l.split(/\s+/)[0]);
    expect(ids).toEqual([...ids].sort());
    expect(text()).toBe(t); // deterministic
    expect(t).not.toMatch(/\x1b\[/); // no colors
  });

  it("shows one driver's keywords with flags, text and example, then the generic keywords", () => {
    const t = text("disk.loop");
    expect(t.split("\n")[0]).toMatch(/^disk\.loop {2}A loop device/);
    expect(t).toContain("  file  (string, required, scopable)\n");
    expect(t).toContain("  size  (size, scopable, provisioning, default 100m)\n");
    expect(t).toContain("      example: file = /srv/{name}/disk.img\n");
    expect(t).toMatch(/Generic keywords[^\n]*\n {2}type, tags, subset, disable/);
  });

  it("shows candidates, aliases and markers", () => {
    expect(text("app.simple")).toContain("  kill  (string, scopable, default parent, candidates parent|tree)\n");
    expect(text("disk.vg")).toContain("  name  (string, required, scopable, alias vgname)\n");
    expect(text("ip.amazon")).toMatch(/ {2}ipname {2}\(string, scopable, alias name, accepts <markers>\)/);
    expect(text("app.forking")).toContain('retcodes  (string, scopable, default "0:up 1:down")');
  });

  it("notes aliases of drivers", () => {
    expect(text("disk.lvm").split("\n")[0]).toBe("disk.lvm  (alias of disk.vg) Deprecated alias of disk.vg: an LVM volume group.");
  });

  it("shows DEFAULT keywords", () => {
    const t = text("DEFAULT");
    expect(t.split("\n")[0]).toMatch(/^DEFAULT {2}Object-level keywords/);
    expect(t).toContain("  nodes  (list, scopable, default {nodename})\n");
    expect(t).toContain("  env  (string, default TST, alias service_type)\n");
    expect(text("default")).toBe(t);
  });

  it("prints a non-default lookup mode", () => {
    expect(text("volume")).toContain("  pool  (string, provisioning, inherit leaf)\n");
  });

  it("lists the drivers of a group", () => {
    const t = text("fs");
    expect(t.split("\n")[0]).toBe("Drivers of the fs group (the type keyword picks one):");
    expect(t).toMatch(/^fs\.ext4\s/m);
    expect(t).toMatch(/^fs\.directory\s/m);
    expect(t).not.toMatch(/^disk\./m);
  });

  it("volume is a typeless driver, shown directly", () => {
    expect(text("volume")).toMatch(/^volume {2}A volume object/);
  });

  it("unknown driver: error with did-you-mean", () => {
    expect(error("fs.ext5")).toBe('unknown driver "fs.ext5" (did you mean "fs.ext2"?); run `osvc keywords` to list the drivers');
    expect(error("disk.lopp")).toContain('did you mean "disk.loop"?');
    expect(error("container.dokcer")).toContain('did you mean "container.docker"?');
    expect(error("zzzzzzzz")).toBe('unknown driver "zzzzzzzz"; run `osvc keywords` to list the drivers');
  });
});
