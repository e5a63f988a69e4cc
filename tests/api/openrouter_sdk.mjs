// Calls every read (GET) operation of OpenRouter's official TypeScript SDK against a running
// tokenport and prints one JSON line per operation: whether the SDK returned a value (which it
// has validated against its own models) or which error it raised. tests/api/test_openrouter_sdk.py
// runs it and judges the lines; the operations are found in the SDK itself (every function
// under funcs/ that sends a GET), so a new read endpoint in a new SDK version is not missed.
//
// env: SDK_DIR (the installed @openrouter/sdk), BASE_URL (tokenport's /api/v1), API_KEY,
// ADMIN_KEY (key management, as OpenRouter's management key), and the values the operations
// take: GEN_ID, AUTHOR, SLUG, KEY_HASH.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const env = process.env;
const esm = path.join(env.SDK_DIR, "esm");
const load = (rel) => import(pathToFileURL(path.join(esm, rel)).href);
const { OpenRouterCore } = await load("core.js");
const ops = await load("models/operations/index.js");

// The functions that manage keys run with the admin key, as OpenRouter's need a management key.
const ADMIN_OPS = new Set(["apiKeysList", "apiKeysGet", "analyticsGetUserActivity"]);
// A value for each path or query parameter an operation requires, by its name.
const VALUES = {
  id: env.GEN_ID,
  author: env.AUTHOR,
  slug: env.SLUG,
  hash: env.KEY_HASH,
  interval: "monthly",
  version: "1",
};

function required(src) {
  const m = src.match(/operations\.(\w+Request)\$outboundSchema/);
  const schema = m ? ops[`${m[1]}$outboundSchema`] : undefined;
  const shape = schema?.shape ?? schema?._zod?.def?.in?._zod?.def?.shape ?? {};
  return Object.entries(shape)
    .filter(([, v]) => !v.safeParse(undefined).success)
    .map(([k]) => k);
}

const user = new OpenRouterCore({ apiKey: env.API_KEY, serverURL: env.BASE_URL, retryConfig: { strategy: "none" } });
const admin = new OpenRouterCore({ apiKey: env.ADMIN_KEY, serverURL: env.BASE_URL, retryConfig: { strategy: "none" } });
const dir = path.join(esm, "funcs");
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".js")).sort()) {
  const src = fs.readFileSync(path.join(dir, file), "utf8");
  if (!src.includes('method: "GET"')) continue;
  const name = file.slice(0, -3);
  const fn = (await load(`funcs/${file}`))[name];
  const request = Object.fromEntries(required(src).map((k) => [k, VALUES[k] ?? "none"]));
  const out = { name, path: (src.match(/pathToFunc\("([^"]*)"\)/) || [])[1] };
  try {
    const client = ADMIN_OPS.has(name) ? admin : user;
    // A function whose second parameter is `security` takes the key there (models/user).
    const takesSecurity = /^export function \w+\(client, security,/m.test(src);
    const result = takesSecurity
      ? await fn(client, { bearer: ADMIN_OPS.has(name) ? env.ADMIN_KEY : env.API_KEY }, request)
      : await fn(client, request);
    if (result.ok) {
      out.outcome = "ok";
    } else {
      const e = result.error;
      out.outcome = "error";
      out.error = e?.name ?? e?.constructor?.name;
      out.status = e?.statusCode ?? e?.httpMeta?.response?.status ?? null;
      out.message = String(e?.message ?? e).slice(0, 600);
      out.body = typeof e?.body === "string" ? e.body.slice(0, 300) : undefined;
    }
  } catch (e) {
    out.outcome = "error";
    out.error = e?.name ?? "thrown";
    out.message = String(e?.message ?? e).slice(0, 600);
  }
  console.log(JSON.stringify(out));
}
