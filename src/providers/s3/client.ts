/**
 * Builds the one S3Client a provider uses: endpoint presets, credentials (explicit keys or the SDK's
 * default chain), the retry strategy and socket timeouts.
 */
import { createHash } from "node:crypto";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { BuildMiddleware, MetadataBearer } from "@smithy/types";
import type { S3Settings } from "../../config/types.js";
import { WorkspaceSyncError } from "../../errors.js";
import { PlanRetryStrategy } from "./retry.js";
import { resolveS3Endpoint, retryPlan, type ResolvedS3Endpoint } from "./settings.js";

/** Fails a connection attempt that gets no answer at all. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Fails a request whose socket stays silent this long (a stalled upload or download). */
const SOCKET_IDLE_TIMEOUT_MS = 120_000;

/** A client plus what it resolved to, for messages. */
export interface BuiltS3Client {
  client: S3Client;
  endpoint: ResolvedS3Endpoint;
  /** The endpoint for messages: the URL, or `AWS S3 (<region>)`. */
  endpointLabel: string;
}

/** Creates the S3 client for `settings`. */
export function buildS3Client(settings: S3Settings): BuiltS3Client {
  const endpoint = resolveS3Endpoint(settings);
  const hasKey = Boolean(settings.accessKeyId);
  const hasSecret = Boolean(settings.secretAccessKey);
  if (hasKey !== hasSecret) {
    throw new WorkspaceSyncError(
      "CONFIG_INVALID",
      `s3.${hasKey ? "secretAccessKey" : "accessKeyId"} is missing: set both s3.accessKeyId and s3.secretAccessKey, or neither to use the AWS default credential chain`,
      { path: hasKey ? "s3.secretAccessKey" : "s3.accessKeyId" },
    );
  }
  const plan = retryPlan(settings.maxRetrySeconds);
  const config: S3ClientConfig = {
    region: endpoint.region,
    forcePathStyle: endpoint.forcePathStyle,
    // With the SDK's default (WHEN_SUPPORTED) streamed bodies go out aws-chunked with a trailing CRC32,
    // which R2 and older S3 servers (Ceph RGW, B2) reject or store corrupted: checksum only when required.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // SlowDown, 429, 5xx and socket errors are retried here, per request (parts included, so a failed
    // part is re-sent alone), with backoff and jitter, honouring Retry-After, within maxRetrySeconds.
    maxAttempts: plan.maxAttempts,
    retryStrategy: new PlanRetryStrategy(plan),
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: SOCKET_IDLE_TIMEOUT_MS },
  };
  if (endpoint.endpoint) config.endpoint = endpoint.endpoint;
  else config.followRegionRedirects = true;
  if (hasKey) {
    config.credentials = {
      accessKeyId: settings.accessKeyId!,
      secretAccessKey: settings.secretAccessKey!,
      ...(settings.sessionToken ? { sessionToken: settings.sessionToken } : {}),
    };
  }
  const client = new S3Client(config);
  useContentMd5ForDeleteObjects(client);
  return {
    client,
    endpoint,
    endpointLabel: endpoint.endpoint ?? `AWS S3 (${endpoint.region})`,
  };
}

/**
 * DeleteObjects must carry a body checksum. The SDK now sends CRC32 (`x-amz-checksum-crc32`), but
 * MinIO, B2 and other S3-compatible servers still demand `Content-MD5` and answer 400 otherwise:
 * send Content-MD5 instead, which AWS accepts as well.
 */
function useContentMd5ForDeleteObjects(client: S3Client): void {
  const contentMd5: BuildMiddleware<object, MetadataBearer> = (next, context) => async (args) => {
    const request = args.request as { headers?: Record<string, string>; body?: unknown } | undefined;
    const body = request?.body;
    if (context.commandName === "DeleteObjectsCommand" && request?.headers && (typeof body === "string" || body instanceof Uint8Array)) {
      for (const name of Object.keys(request.headers)) {
        const lower = name.toLowerCase();
        if (lower.startsWith("x-amz-checksum-") || lower.startsWith("x-amz-sdk-checksum-")) delete request.headers[name];
      }
      request.headers["content-md5"] = createHash("md5").update(body).digest("base64");
    }
    return next(args);
  };
  // Low priority in the build step: runs after the SDK's checksum middleware has added its headers.
  client.middlewareStack.add(contentMd5, { step: "build", priority: "low", name: "workspaceSyncContentMd5" });
}
