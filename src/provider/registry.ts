// Driver id -> provider. The CLI registers the built-in providers; tests may register others.
import type { Provider } from "./api.js";

export class ProviderRegistry {
  private readonly byType = new Map<string, Provider>();

  constructor(providers: Iterable<Provider> = []) {
    for (const p of providers) this.register(p);
  }

  register(p: Provider): void {
    if (this.byType.has(p.type)) throw new Error(`provider ${p.type} registered twice`);
    this.byType.set(p.type, p);
  }

  get(type: string): Provider | undefined {
    return this.byType.get(type);
  }

  /** Driver ids with a provider on this host, sorted. */
  get types(): string[] {
    return [...this.byType.keys()].sort();
  }
}
