/** Issue 12 (sync part) against the Dropbox wire fake (case-insensitive, folders, its own name rules). */
import path from "node:path";
import { silentLogger } from "../src/logger.js";
import { createDropboxProvider } from "../src/providers/dropbox/index.js";
import { startDropboxFake } from "./support/dropbox-fake.js";
import { describeSafetySuite } from "./sync-safety-suite.js";

describeSafetySuite("Dropbox (wire fake)", async (dir) => {
  const fake = await startDropboxFake();
  const provider = createDropboxProvider(
    { token: fake.issueAccessToken(), fetch: fake.fetch },
    { logger: silentLogger, stateDir: path.join(dir, "dropbox-state") },
    { backoffBaseMs: 10, batchDelayMs: 20 },
  );
  return {
    provider,
    cleanup: async () => {
      await provider.close?.();
      await fake.close();
    },
  };
});
