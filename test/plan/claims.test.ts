import { describe, expect, it } from "vitest";
import { claimDiagnostic, claimsOf, crossClaims, heldClaims, HELD_CLAIMS_FORMAT } from "../../src/plan/claims.js";
import type { StateFile } from "../../src/state/model.js";

function stateOf(object: string, resources: { rid: string; driver: string; inputs: Record<string, unknown>; provisioned?: boolean | null }[]): StateFile {
  return {
    format: 1,
    lineage: "l",
    serial: 1,
    object,
    node: "n",
    osvcVersion: "v",
    templateHash: null,
    updatedAt: "t",
    resources: Object.fromEntries(resources.map((r) => [r.rid, { rid: r.rid, driver: r.driver, inputs: r.inputs, outputs: {}, provisioned: r.provisioned ?? true, updatedAt: "t" }])),
  };
}

describe("cross-object claims", () => {
  it("names what each driver holds; loop devices and deferred keywords are never compared", () => {
    expect(claimsOf("disk.loop", { file: "/srv/a/../a.img" }).map((c) => c.key)).toEqual(["path:/srv/a.img"]);
    expect(claimsOf("fs.ext4", { mnt: "/srv/m", dev: "/dev/loop3" }).map((c) => c.key)).toEqual(["path:/srv/m"]);
    expect(claimsOf("fs.ext4", { mnt: "/srv/m", dev: "/dev/sdb1" }).map((c) => c.key)).toEqual(["path:/srv/m", "dev:/dev/sdb1"]);
    expect(claimsOf("fs.ext4", { mnt: "/srv/m", dev: "/dev/sdb1" }, ["dev"]).map((c) => c.key)).toEqual(["path:/srv/m"]);
    expect(claimsOf("disk.vg", { name: "vg1", pvs: ["/dev/sdc"] }).map((c) => c.key)).toEqual(["vg:vg1", "dev:/dev/sdc"]);
    expect(claimsOf("container.podman", { name: "web" }).map((c) => c.key)).toEqual(["container:web"]);
    expect(claimsOf("ip.host", { ipname: "10.0.0.1" })).toEqual([]);
  });

  it("finds a mount point another object's directory holds, but not what that object does not hold", () => {
    const others = [
      { object: "a", held: heldClaims(stateOf("a", [{ rid: "fs#0", driver: "fs.directory", inputs: { path: "/srv/x" } }])) },
      { object: "b", held: heldClaims(stateOf("b", [{ rid: "disk#0", driver: "disk.loop", inputs: { file: "/srv/b.img" }, provisioned: false }])) },
    ];
    const found = crossClaims(
      [
        { rid: "fs#1", driver: "fs.xfs", inputs: { mnt: "/srv/x/" } },
        { rid: "disk#0", driver: "disk.loop", inputs: { file: "/srv/b.img" } },
      ],
      others,
    );
    expect(found.map((c) => `${c.rid} ${c.otherObject} ${c.otherRid}`)).toEqual(["fs#1 a fs#0"]);
    const d = claimDiagnostic("me", found[0]);
    expect(d.code).toBe("E3012");
    expect(d.summary).toBe("fs#1 of me declares the mount point /srv/x, which fs#0 of the object a holds");
  });

  it("pins what heldClaims() returns for a sample state: a change needs HELD_CLAIMS_FORMAT bumped (plans cache it per state file)", () => {
    const sample = stateOf("s", [
      { rid: "disk#0", driver: "disk.loop", inputs: { file: "/srv/s/../s.img" } },
      { rid: "disk#1", driver: "disk.vg", inputs: { name: "vgs", pvs: "/dev/sdc /dev/loop4" } },
      { rid: "disk#2", driver: "disk.loop", inputs: { file: "/srv/gone.img" }, provisioned: false },
      { rid: "fs#0", driver: "fs.ext4", inputs: { mnt: "/srv/m", dev: "/dev/sdb1" } },
      { rid: "fs#1", driver: "fs.directory", inputs: { path: "/srv/d" }, provisioned: null },
      { rid: "container#0", driver: "container.podman", inputs: { name: "web" } },
      { rid: "ip#0", driver: "ip.host", inputs: { ipname: "10.0.0.1" } },
    ]);
    const followed = { ...sample, resources: { ...sample.resources, "fs#2": { rid: "fs#2", driver: "fs.directory", inputs: { path: "/srv/f" }, outputs: {}, provisioned: true, follow: true, updatedAt: "t" } } } as StateFile;
    // If this fails because claimsOf()/heldClaims() changed on purpose: update the expected list
    // AND bump HELD_CLAIMS_FORMAT, so that no plan trusts a value cached by the previous code.
    expect([HELD_CLAIMS_FORMAT, heldClaims(followed)]).toEqual([
      1,
      [
        ["path:/srv/s.img", "disk#0"],
        ["vg:vgs", "disk#1"],
        ["dev:/dev/sdc", "disk#1"],
        ["path:/srv/m", "fs#0"],
        ["dev:/dev/sdb1", "fs#0"],
        ["path:/srv/d", "fs#1"],
        ["container:web", "container#0"],
      ],
    ]);
  });
});
