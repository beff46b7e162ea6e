// volume: a vol object of the same namespace, allocated from a storage pool and claimed by this
// object (opensvc-semantics §11.13). The vol is an object like any other (its config is the
// pool's translation: [disk#0] loop + [fs#1], or [fs#1] directory); this driver reaches it
// through the context's VolumeHost.
//
// probe      : the vol exists, lists this object in its children (the claim), is provisioned;
//              up = the vol's status is up. Outputs: name, pool, mnt, exposed_devs (what
//              {volume#N.mnt} and {volume#N.exposed_devs[0]} resolve to).
// provision  : when the vol does not exist, choose the pool and write the vol's config (claimed
//              by this object); else claim it. Then provision the vol on this node (no rollback:
//              a vol left half-made is resumed by the next provision).
// start/stop : start/stop the vol. A stop leaves it up while other objects claim it.
// unprovision: unclaim, then stop (same rule). The vol and its data stay: `osvc <vol> purge`
//              destroys them (refused while claimed).
import type { Outputs } from "../../src/core/value.js";
import { ProviderError, type Observed, type ProbeContext, type Provider, type ProviderContext, type ResourceSpec, type VolumeHost, type VolumeInfo } from "../../src/provider/api.js";
import { volumeSpec } from "./spec.js";

/** How long a stop waits before asking the vol again when a loop device's detach was deferred. */
const DEFERRED_RETRY_MS = 3000;

function host(ctx: { volumes?: VolumeHost }): VolumeHost {
  if (!ctx.volumes) throw new ProviderError("volume resources need the vol objects of this node, which this context cannot reach");
  return ctx.volumes;
}

function volName(r: ResourceSpec): string {
  const n = r.kw.name;
  if (typeof n !== "string" || n.trim() === "") throw new ProviderError(`${r.rid}: keyword "name" is empty`, "name = {name}-data (the vol object of this namespace)");
  return n.trim();
}

function outputs(v: VolumeInfo): Outputs {
  return { name: v.path.split("/").pop() ?? v.path, ...(v.pool ? { pool: v.pool } : {}), ...(v.mnt ? { mnt: v.mnt } : {}), exposed_devs: [...v.exposedDevs] };
}

/** A line of the vol's own run, as this resource logs it: "<vol>.fs#1 mounted ..." (level and padding dropped). */
function volLine(line: string): string {
  return line.replace(/^(INFO|WARNING|ERROR)\s+/, "").replace(/\s{2,}/g, " ");
}

function claimedHere(v: VolumeInfo, consumer: string): boolean {
  return v.children.includes(consumer);
}

async function probe(ctx: ProbeContext, resources: readonly ResourceSpec[]): Promise<Observed[]> {
  const out: Observed[] = [];
  for (const r of resources) {
    const v = await host(ctx).info(volName(r));
    const provisioned = v.exists && claimedHere(v, ctx.objectName) && v.provisioned;
    out.push({ provisioned, up: provisioned && v.up, ...(v.exists ? { outputs: outputs(v) } : {}) });
  }
  return out;
}

async function upOutputs(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const v = await host(ctx).info(volName(r));
  if (!v.up) throw new ProviderError(`${v.path} is not up after its start${v.down ? ` (${v.down})` : ""}`, `See: osvc ${v.path} print status`);
  return outputs(v);
}

async function provision(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const h = host(ctx);
  const name = volName(r);
  const v = await h.info(name);
  if (!v.exists) {
    const size = typeof r.kw.size === "number" ? r.kw.size : undefined;
    const pool = await h.create(
      name,
      {
        ...(typeof r.kw.pool === "string" && r.kw.pool ? { pool: r.kw.pool } : {}),
        ...(typeof r.kw.type === "string" && r.kw.type ? { type: r.kw.type } : {}),
        ...(size !== undefined ? { size } : {}),
        access: typeof r.kw.access === "string" ? r.kw.access : "rwo",
        format: r.kw.format !== false,
      },
      ctx.objectName,
    );
    ctx.log("info", `created ${v.path} from pool ${pool}, claimed by ${ctx.objectName}`);
  } else if (!claimedHere(v, ctx.objectName)) {
    await h.claim(name, ctx.objectName);
    ctx.log("info", `claimed ${v.path} (children: ${[...v.children, ctx.objectName].join(" ")})`);
  }
  await h.act(name, "provision", (line) => ctx.log("info", volLine(line)), { leader: ctx.role === "leader" });
  return upOutputs(ctx, r);
}

async function start(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const h = host(ctx);
  const name = volName(r);
  const v = await h.info(name);
  if (!v.exists) throw new ProviderError(`${v.path} does not exist on this node`, "Provision this object first: the volume resource creates it.");
  if (!v.up) await h.act(name, "start", (line) => ctx.log("info", volLine(line)));
  return upOutputs(ctx, r);
}

/** Stops the vol unless another object claims it. */
async function stopUnlessClaimed(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  const h = host(ctx);
  const name = volName(r);
  const v = await h.info(name);
  if (!v.exists || !v.provisioned) return;
  const others = v.children.filter((c) => c !== ctx.objectName);
  if (others.length) {
    ctx.log("info", `${v.path} left up: also claimed by ${others.join(" ")}`);
    return;
  }
  if (!v.up) return;
  try {
    await h.act(name, "stop", (line) => ctx.log("info", volLine(line)));
  } catch (e) {
    // A loop device whose detach the kernel deferred (a prober such as blkid holds it open for
    // a moment; a loaded host makes that moment long): the vol's stop is idempotent, ask again once.
    if (!(e instanceof ProviderError) || !/detach is deferred/.test(e.message)) throw e;
    ctx.log("warning", `${v.path}: a loop device was still held open; stopping again in ${DEFERRED_RETRY_MS / 1000} s`);
    await new Promise((done) => setTimeout(done, DEFERRED_RETRY_MS));
    await h.act(name, "stop", (line) => ctx.log("info", volLine(line)));
  }
}

async function unprovision(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  const h = host(ctx);
  const name = volName(r);
  const v = await h.info(name);
  if (!v.exists) return;
  await h.unclaim(name, ctx.objectName);
  ctx.log("info", `unclaimed ${v.path}: its data is kept (destroy it with: osvc ${v.path} purge)`);
  await stopUnlessClaimed(ctx, r);
}

export const volumeProvider: Provider = {
  type: "volume",
  spec: volumeSpec,
  probe,
  provision,
  unprovision,
  start,
  stop: stopUnlessClaimed,
};
