/**
 * Builds the one S3Client a provider uses: endpoint presets, credentials (explicit keys, keys written
 * into the endpoint URL, or the SDK's default chain), the retry strategy and the network deadlines.
 *
 * Deadlines: every request fails when its connection stays idle for `s3.idleTimeoutSeconds` (default
 * 60; no byte either way: no answer, or a stalled transfer) and is retried once; connecting is limited
 * to 10 s. While a command waits for an answer, a "still waiting for <endpoint>" line is logged every
 * half idle period. A server that accepts connections and never answers thus fails a command in about
 * two minutes with NETWORK naming the endpoint and the fix; a slow but moving transfer is never cut.
 *
 * Userinfo in `s3.endpoint` (`https://<key id>:<secret>@host`) means credentials: it is removed from
 * the URL the SDK gets (so no SDK message can carry it) and used as the access key pair when
 * `s3.accessKeyId`/`s3.secretAccessKey` are not set; explicit keys win, with a warning.
 */
import { createHash } from "node:crypto";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { BuildMiddleware, InitializeMiddleware, MetadataBearer } from "@smithy/types";
import type { S3Settings } from "../../config/types.js";
import { WorkspaceSyncError } from "../../errors.js";
import { redactingLogger, silentLogger, type Logger } from "../../logger.js";
import { URL_CREDENTIALS_MASK } from "../../util/url-credentials.js";
import { PlanRetryStrategy } from "./retry.js";
import { resolveS3Endpoint, retryPlan, s3Deadlines, type ResolvedS3Endpoint, type S3Deadlines } from "./settings.js";

/** Requests whose answer comes only after their whole body was sent: a long wait there is normal. */
const BODY_COMMANDS = new Set(["PutObjectCommand", "UploadPartCommand"]);

/** A client plus what it resolved to, for messages. */
export interface BuiltS3Client {
  client: S3Client;
  endpoint: ResolvedS3Endpoint;
  /** The endpoint for messages: the URL (userinfo shown as `***@`), or `AWS S3 (<region>)`. */
  endpointLabel: string;
  /** The network deadlines in force. */
  deadlines: S3Deadlines;
}

/** Creates the S3 client for `settings`; `logger` gets the "still waiting" lines and setting warnings. */
export function buildS3Client(settings: S3Settings, logger: Logger = silentLogger): BuiltS3Client {
  const log = redactingLogger(logger);
  const endpoint = resolveS3Endpoint(settings);
  const fromUrl = endpoint.urlCredentials;
  let keys: { accessKeyId?: string; secretAccessKey?: string } = settings;
  if (fromUrl && (settings.accessKeyId || settings.secretAccessKey)) {
    log.warn("s3.endpoint contains credentials (user:password@) and s3.accessKeyId/s3.secretAccessKey are set too: using the s3.* keys; remove the credentials from s3.endpoint");
  } else if (fromUrl?.secretAccessKey) {
    keys = fromUrl;
  } else if (fromUrl) {
    log.warn("s3.endpoint contains a user name without a password: ignored; set s3.accessKeyId and s3.secretAccessKey");
  }
  const hasKey = Boolean(keys.accessKeyId);
  const hasSecret = Boolean(keys.secretAccessKey);
  if (hasKey !== hasSecret) {
    throw new WorkspaceSyncError(
      "CONFIG_INVALID",
      `s3.${hasKey ? "secretAccessKey" : "accessKeyId"} is missing: set both s3.accessKeyId and s3.secretAccessKey, or neither to use the AWS default credential chain`,
      { path: hasKey ? "s3.secretAccessKey" : "s3.accessKeyId" },
    );
  }
  const plan = retryPlan(settings.maxRetrySeconds);
  const deadlines = s3Deadlines(settings.idleTimeoutSeconds);
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
    // socketTimeout is an idle limit (no byte either way), so slow but moving transfers go on; the
    // SDK's requestTimeout would be a total cap (and only a warning by default): not used.
    requestHandler: { connectionTimeout: deadlines.connectMs, socketTimeout: deadlines.idleMs },
  };
  if (endpoint.endpoint) config.endpoint = endpoint.endpoint;
  else config.followRegionRedirects = true;
  if (hasKey) {
    config.credentials = {
      accessKeyId: keys.accessKeyId!,
      secretAccessKey: keys.secretAccessKey!,
      ...(settings.sessionToken ? { sessionToken: settings.sessionToken } : {}),
    };
  }
  const client = new S3Client(config);
  useContentMd5ForDeleteObjects(client);
  const endpointLabel = endpoint.endpoint ? (fromUrl ? endpoint.endpoint.replace("://", `://${URL_CREDENTIALS_MASK}@`) : endpoint.endpoint) : `AWS S3 (${endpoint.region})`;
  logWhileWaiting(client, log, endpointLabel, deadlines);
  return { client, endpoint, endpointLabel, deadlines };
}

/**
 * Logs "still waiting for <endpoint> after N s" every `noticeMs` while a command (its retries
 * included) has no answer: a silent server is never silent for the user. Warn level, except for
 * uploads, whose answer only comes after the whole body went out (info there).
 */
function logWhileWaiting(client: S3Client, logger: Logger, endpointLabel: string, deadlines: S3Deadlines): void {
  const idleSeconds = Math.round(deadlines.idleMs / 100) / 10;
  const notice: InitializeMiddleware<object, MetadataBearer> = (next, context) => async (args) => {
    const started = Date.now();
    const command = String(context.commandName ?? "request").replace(/Command$/, "");
    const timer = setInterval(() => {
      const seconds = Math.round((Date.now() - started) / 1000);
      const line = `s3: still waiting for ${endpointLabel} after ${seconds} s (${command}); a request fails after ${idleSeconds} s without any data (s3.idleTimeoutSeconds)`;
      if (BODY_COMMANDS.has(String(context.commandName))) logger.info(line);
      else logger.warn(line);
    }, deadlines.noticeMs);
    timer.unref();
    try {
      return await next(args);
    } finally {
      clearInterval(timer);
    }
  };
  client.middlewareStack.add(notice, { step: "initialize", priority: "high", name: "workspaceSyncWaitNotice" });
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
