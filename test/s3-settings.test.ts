import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_PART_SIZE,
  MAX_PARTS,
  MIN_PART_SIZE,
  choosePartSize,
  formatMtimeMetadata,
  md5FromEtag,
  parseMtimeMetadata,
  resolveS3Endpoint,
  retryPlan,
} from "../src/providers/s3/index.js";
import { isWorkspaceSyncError } from "../src/errors.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

test("endpoint presets: R2, B2, custom, AWS; explicit settings win", () => {
  const cases: Array<[Parameters<typeof resolveS3Endpoint>[0], ReturnType<typeof resolveS3Endpoint>]> = [
    [{}, { endpoint: undefined, region: "us-east-1", forcePathStyle: false, preset: "aws" }],
    [{ region: "eu-west-1" }, { endpoint: undefined, region: "eu-west-1", forcePathStyle: false, preset: "aws" }],
    [
      { endpoint: "https://abc123.r2.cloudflarestorage.com" },
      { endpoint: "https://abc123.r2.cloudflarestorage.com", region: "auto", forcePathStyle: true, preset: "r2" },
    ],
    [
      { endpoint: "https://abc123.eu.r2.cloudflarestorage.com/", region: "wnam" },
      { endpoint: "https://abc123.eu.r2.cloudflarestorage.com", region: "wnam", forcePathStyle: true, preset: "r2" },
    ],
    [
      { endpoint: "https://s3.us-west-002.backblazeb2.com" },
      { endpoint: "https://s3.us-west-002.backblazeb2.com", region: "us-west-002", forcePathStyle: true, preset: "b2" },
    ],
    [
      { endpoint: "s3.eu-central-003.backblazeb2.com", forcePathStyle: false },
      { endpoint: "https://s3.eu-central-003.backblazeb2.com", region: "eu-central-003", forcePathStyle: false, preset: "b2" },
    ],
    [
      { endpoint: "http://127.0.0.1:9000" },
      { endpoint: "http://127.0.0.1:9000", region: "us-east-1", forcePathStyle: true, preset: "custom" },
    ],
  ];
  for (const [input, expected] of cases) assert.deepEqual(resolveS3Endpoint(input), expected, JSON.stringify(input));
});

test("an endpoint that is not a URL is a config error naming s3.endpoint", () => {
  assert.throws(
    () => resolveS3Endpoint({ endpoint: "http://exa mple.com" }),
    (err: unknown) => isWorkspaceSyncError(err, "CONFIG_INVALID") && err.path === "s3.endpoint",
  );
});

test("part size: at least 8 MiB, fixed, under 10 000 parts, override respected", () => {
  const cases: Array<[number | undefined, number | undefined, number]> = [
    [undefined, undefined, DEFAULT_PART_SIZE],
    [0, undefined, MIN_PART_SIZE],
    [1000, undefined, MIN_PART_SIZE],
    [50 * MiB, undefined, MIN_PART_SIZE],
    [70 * GiB, undefined, 8 * MiB],
    [100 * GiB, undefined, 12 * MiB],
    [1024 * GiB, undefined, 117 * MiB],
    [50 * MiB, 5, 5 * MiB],
    [100 * GiB, 64, 64 * MiB],
    [undefined, 32, 32 * MiB],
  ];
  for (const [hint, override, expected] of cases) {
    const { partSize, warning } = choosePartSize(hint, override);
    assert.equal(partSize, expected, `hint ${hint} override ${override}`);
    assert.equal(warning, undefined);
    assert.ok(partSize >= (override === undefined ? MIN_PART_SIZE : 5 * MiB));
    assert.equal(partSize % MiB, 0);
    if (hint !== undefined) assert.ok(Math.ceil(hint / partSize) <= MAX_PARTS, `${hint} in ${partSize} parts`);
  }
});

test("part size: an override too small for the hinted size is raised, with a warning", () => {
  const { partSize, warning } = choosePartSize(100 * GiB, 8);
  assert.ok(Math.ceil((100 * GiB) / partSize) <= MAX_PARTS);
  assert.match(warning ?? "", /s3\.partSizeMiB 8 would need more than 10000 parts/);
});

test("part size: an override outside 5..5120 MiB is a config error", () => {
  for (const bad of [1, 4.9, 6000, Number.NaN]) {
    assert.throws(() => choosePartSize(undefined, bad), (err: unknown) => isWorkspaceSyncError(err, "CONFIG_INVALID") && err.path === "s3.partSizeMiB");
  }
});

test("retry plan: the default budget retries for about five minutes; small budgets stay small", () => {
  const plan = retryPlan();
  const total = plan.delays.reduce((a, b) => a + b, 0);
  assert.equal(plan.maxAttempts, plan.delays.length + 1);
  assert.ok(plan.maxAttempts >= 10, `attempts ${plan.maxAttempts}`);
  assert.ok(total <= 300_000 && total >= 240_000, `total ${total}`);
  assert.deepEqual(plan.delays.slice(0, 6), [1000, 2000, 4000, 8000, 16000, 30000]);
  assert.ok(plan.delays.every((d) => d <= 30_000));

  const short = retryPlan(2);
  assert.ok(short.maxAttempts >= 3);
  assert.ok(short.delays.reduce((a, b) => a + b, 0) <= 2000);
  assert.deepEqual(retryPlan(0), { maxAttempts: 1, delays: [] });
});

test("mtime metadata: rclone's seconds format both ways; milliseconds accepted", () => {
  const t = new Date(1700000000123);
  assert.equal(formatMtimeMetadata(t), "1700000000.123");
  assert.equal(parseMtimeMetadata("1700000000.123")?.getTime(), 1700000000123);
  assert.equal(parseMtimeMetadata("1700000000.123456789")?.getTime(), 1700000000123);
  assert.equal(parseMtimeMetadata("1700000000123")?.getTime(), 1700000000123);
  assert.equal(parseMtimeMetadata("yesterday"), undefined);
  assert.equal(parseMtimeMetadata(undefined), undefined);
});

test("ETag: only single-part MD5 ETags count as a hash", () => {
  assert.equal(md5FromEtag('"5D41402ABC4B2A76B9719D911017C592"'), "5d41402abc4b2a76b9719d911017c592");
  assert.equal(md5FromEtag('"1894e60ecdffd6548584a244af6ba84b-3"'), undefined);
  assert.equal(md5FromEtag(""), undefined);
  assert.equal(md5FromEtag(undefined), undefined);
});

test("ETag: the content MD5 of a single-part one, whatever its spelling (quotes, weak mark, capitals)", () => {
  const md5 = "5d41402abc4b2a76b9719d911017c592";
  for (const raw of [md5, `"${md5}"`, `"${md5.toUpperCase()}"`, `W/"${md5}"`, ` W/"${md5.toUpperCase()}" `]) assert.equal(md5FromEtag(raw), md5, raw);
  assert.equal(md5FromEtag('W/"1894E60ECDFFD6548584A244AF6BA84B-3"'), undefined, "multipart: no MD5");
});
