/** Authenticated snapshots on S3 (Ceph RGW through the AWS SDK): the attacks of backup-auth-suite.ts. */
import { silentLogger } from "../src/logger.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import { PASS, authSuite } from "./backup-auth-suite.js";
import { s3TestSettings } from "./support/s3.js";

authSuite("RGW", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return undefined;
  const storage = createS3Provider(s3, { logger: silentLogger });
  t.after(() => storage.close?.());
  return {
    storage,
    config: (extra = {}) => ({
      backup: {
        enabled: true,
        provider: "s3",
        s3: { endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true, maxRetrySeconds: 2 },
        bucket: s3.bucket,
        encrypt: true,
        passphrase: PASS,
        kdfIterations: 1000,
        ...extra,
      },
    }),
  };
});
