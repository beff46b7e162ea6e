// The DataReader providers get for configs_/secrets_environment: keys of the cfg/sec objects of
// the object's namespace, read from the state store; a missing object or key is a ProviderError.
import { ProviderError, type DataReader } from "../provider/api.js";
import { DataError, readDataValue } from "../state/data.js";

export function dataReader(store: { readonly root: string; readConfig(path: string): Promise<string | null> }, namespace: string): DataReader {
  return async (kind, name, key) => {
    try {
      return await readDataValue(store, namespace, kind, name, key);
    } catch (e) {
      if (e instanceof DataError) throw new ProviderError(e.message, e.hint);
      throw e;
    }
  };
}
