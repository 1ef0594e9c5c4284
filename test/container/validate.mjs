// Offline checks of rendered Kubernetes manifests (`kubectl kustomize` output),
// run by test/container/run.sh:
//
//   node validate.mjs --modules DIR --options server/options.c NAME=FILE [NAME=FILE...]
//
// DIR holds node_modules with the npm packages kubernetes-models (4.5.1: the
// Kubernetes 1.27 schemas) and yaml. For every document of every FILE:
//   schema  the kubernetes-models validator (types, required fields, enums)
//   fields  no unknown field anywhere (the validator allows them; the API
//           server would drop them with a warning): walked against the
//           models' type declarations
//   policy  what sigstream's deployment promises: non-root, read-only,
//           no privilege escalation, no capabilities, RuntimeDefault seccomp,
//           native gRPC probes on the gRPC port, resources, termination grace
//           longer than SIGSTREAM_GRACE, a max connection age, spread over
//           nodes, only SIGSTREAM_* variables that sigstreamd knows (read
//           from server/options.c), a Service and a PodDisruptionBudget that
//           select the pods.
// Prints one line per finding and a summary; exits 1 if anything failed.

import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";

const args = process.argv.slice(2);
let modules = null;
let optionsC = null;
const inputs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--modules") modules = args[++i];
  else if (args[i] === "--options") optionsC = args[++i];
  else if (args[i].includes("=")) {
    const k = args[i].indexOf("=");
    inputs.push([args[i].slice(0, k), args[i].slice(k + 1)]);
  } else {
    console.error(`validate: unexpected argument ${args[i]}`);
    process.exit(2);
  }
}
if (!modules || !optionsC || inputs.length === 0) {
  console.error("usage: node validate.mjs --modules DIR --options server/options.c NAME=FILE...");
  process.exit(2);
}
const nodeModules = join(resolve(modules), "node_modules");
const require = createRequire(join(nodeModules, "noop.js"));
const YAML = require("yaml");

// Replicas each known overlay must render (others: not checked).
const EXPECTED_REPLICAS = { base: 3, dev: 1, "podman-test": 1 };
const GRPC_PORT = 50051;
const DEFAULT_GRACE_S = 10; // sigstreamd --grace default

let failures = 0;
let checks = 0;
function fail(where, msg) {
  failures++;
  console.log(`FAIL ${where}: ${msg}`);
}
function check(where, cond, msg) {
  checks++;
  if (!cond) fail(where, msg);
  return cond;
}

// ---- the SIGSTREAM_* variables sigstreamd reads: its long options ----
const knownEnv = new Set();
for (const m of readFileSync(optionsC, "utf8").matchAll(/\{"([a-z0-9-]+)",\s*required_argument/g)) {
  knownEnv.add("SIGSTREAM_" + m[1].toUpperCase().replaceAll("-", "_"));
}
if (knownEnv.size < 5) {
  console.log(`FAIL ${optionsC}: found only ${knownEnv.size} options (parser out of date?)`);
  process.exit(1);
}

// ---- unknown fields, walked against the models' .d.ts declarations ----
const dtsCache = new Map();
function parseDts(path) {
  if (dtsCache.has(path)) return dtsCache.get(path);
  let info = { props: null, imports: new Map() };
  if (existsSync(path)) {
    const text = readFileSync(path, "utf8");
    for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
      const spec = m[2];
      const file = spec.startsWith(".")
        ? resolve(dirname(path), spec + ".d.ts")
        : join(nodeModules, spec + ".d.ts");
      info.imports.set(m[1], file);
    }
    const body = text.match(/^export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/m);
    if (body) {
      info.props = new Map();
      for (const m of body[1].matchAll(/^ {4}"([^"]+)"\??: (.*?);?$/gm)) {
        info.props.set(m[1], m[2]);
      }
    }
  }
  dtsCache.set(path, info);
  return info;
}

function walkFields(obj, dtsPath, path, where) {
  const d = parseDts(dtsPath);
  if (!d.props || obj === null || typeof obj !== "object" || Array.isArray(obj)) return;
  for (const [key, value] of Object.entries(obj)) {
    if (!d.props.has(key)) {
      fail(where, `${path}.${key}: unknown field`);
      continue;
    }
    const m = d.props.get(key).match(/^(Array<)?(I\w+)>?$/);
    if (!m || !d.imports.has(m[2])) continue;
    const child = d.imports.get(m[2]);
    if (m[1] && Array.isArray(value)) {
      value.forEach((v, i) => walkFields(v, child, `${path}.${key}[${i}]`, where));
    } else {
      walkFields(value, child, `${path}.${key}`, where);
    }
  }
}

// ---- Kubernetes quantities ----
function cpuMilli(q) {
  const s = String(q);
  return s.endsWith("m") ? Number(s.slice(0, -1)) : Number(s) * 1000;
}
function bytes(q) {
  const m = String(q).match(/^([0-9.]+)([KMGT]i?|[kE]|)$/);
  if (!m) return NaN;
  const mult = { "": 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2,
                 Gi: 1024 ** 3, Ti: 1024 ** 4 }[m[2]];
  return Number(m[1]) * mult;
}
const selects = (selector, labels) =>
  !!selector && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);

// ---- the policy of sigstream's deployment ----
function policy(name, docs) {
  const where = `${name} policy`;
  const deps = docs.filter((d) => d.kind === "Deployment");
  if (!check(where, deps.length === 1, `expected one Deployment, found ${deps.length}`)) return;
  const dep = deps[0];
  const pod = dep.spec?.template?.spec ?? {};
  const podLabels = dep.spec?.template?.metadata?.labels ?? {};
  const ctr = (pod.containers ?? []).find((c) => c.name === "sigstream") ?? pod.containers?.[0];
  if (!check(where, !!ctr, "no container")) return;

  if (name in EXPECTED_REPLICAS) {
    check(where, dep.spec.replicas === EXPECTED_REPLICAS[name],
          `replicas ${dep.spec.replicas}, expected ${EXPECTED_REPLICAS[name]}`);
  }
  check(where, selects(dep.spec.selector?.matchLabels, podLabels),
        "the Deployment's selector does not match its pod labels");

  // Security: container settings, falling back to the pod's where allowed.
  const psc = pod.securityContext ?? {};
  const csc = ctr.securityContext ?? {};
  const runAsNonRoot = csc.runAsNonRoot ?? psc.runAsNonRoot;
  const runAsUser = csc.runAsUser ?? psc.runAsUser;
  const seccomp = (csc.seccompProfile ?? psc.seccompProfile)?.type;
  check(where, runAsNonRoot === true, "runAsNonRoot is not true");
  check(where, Number.isInteger(runAsUser) && runAsUser > 0, `runAsUser ${runAsUser}: want a numeric non-root UID`);
  check(where, csc.readOnlyRootFilesystem === true, "readOnlyRootFilesystem is not true");
  check(where, csc.allowPrivilegeEscalation === false, "allowPrivilegeEscalation is not false");
  check(where, csc.privileged !== true, "privileged");
  check(where, (csc.capabilities?.drop ?? []).includes("ALL"), "capabilities do not drop ALL");
  check(where, !(csc.capabilities?.add ?? []).length, "capabilities added");
  check(where, seccomp === "RuntimeDefault", `seccompProfile ${seccomp}, want RuntimeDefault`);
  check(where, pod.hostNetwork !== true && pod.hostPID !== true, "host namespaces");

  // The gRPC port and native gRPC probes against it.
  const port = (ctr.ports ?? []).find((p) => p.name === "grpc");
  check(where, port?.containerPort === GRPC_PORT, `no container port "grpc" ${GRPC_PORT}`);
  for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    const p = ctr[probe];
    check(where, p?.grpc?.port === GRPC_PORT, `${probe}: no grpc probe on port ${GRPC_PORT}`);
  }
  const svcName = ctr.readinessProbe?.grpc?.service;
  check(where, svcName === undefined || svcName === "" || svcName === "signals.v1.SignalService",
        `readinessProbe asks for the health of "${svcName}", which sigstreamd does not report`);

  // Resources.
  const req = ctr.resources?.requests ?? {};
  const lim = ctr.resources?.limits ?? {};
  for (const r of ["cpu", "memory"]) {
    check(where, req[r] !== undefined && lim[r] !== undefined, `resources: ${r} request and limit`);
  }
  check(where, cpuMilli(req.cpu) <= cpuMilli(lim.cpu), `cpu request ${req.cpu} > limit ${lim.cpu}`);
  check(where, bytes(req.memory) <= bytes(lim.memory), `memory request ${req.memory} > limit ${lim.memory}`);

  // Configuration: only variables sigstreamd reads.
  const env = new Map((ctr.env ?? []).map((e) => [e.name, e]));
  for (const n of env.keys()) {
    if (n.startsWith("SIGSTREAM_")) {
      check(where, knownEnv.has(n), `env ${n}: sigstreamd has no such option (known: ${[...knownEnv].join(" ")})`);
    }
  }
  check(where, !env.has("SIGSTREAM_LISTEN"), "env SIGSTREAM_LISTEN has no effect: the image's --listen flag wins");
  check(where, pod.enableServiceLinks === false,
        "enableServiceLinks is not false: the Service's SIGSTREAM_* variables would reach sigstreamd");
  const age = Number(env.get("SIGSTREAM_MAX_CONNECTION_AGE")?.value);
  check(where, age > 0, "SIGSTREAM_MAX_CONNECTION_AGE is not set above 0 (streams would never rebalance)");
  const grace = env.has("SIGSTREAM_GRACE") ? Number(env.get("SIGSTREAM_GRACE").value) : DEFAULT_GRACE_S;
  const tgps = pod.terminationGracePeriodSeconds ?? 30;
  check(where, tgps > grace, `terminationGracePeriodSeconds ${tgps} <= SIGSTREAM_GRACE ${grace}`);

  // Spread over nodes.
  const spread = (pod.topologySpreadConstraints ?? []).find((t) => t.topologyKey === "kubernetes.io/hostname");
  check(where, !!spread, "no topologySpreadConstraints over kubernetes.io/hostname");
  if (spread) {
    check(where, selects(spread.labelSelector?.matchLabels, podLabels),
          "the spread constraint's labelSelector does not select the pods");
  }

  // Service and PodDisruptionBudget (the podman-test overlay may drop them).
  for (const svc of docs.filter((d) => d.kind === "Service")) {
    check(where, selects(svc.spec?.selector, podLabels), `Service ${svc.metadata.name} selects no pod`);
    const sp = (svc.spec?.ports ?? []).find((p) => p.name === "grpc");
    check(where, sp?.port === GRPC_PORT && sp?.appProtocol === "grpc",
          `Service ${svc.metadata.name}: no port "grpc" ${GRPC_PORT} with appProtocol grpc`);
    check(where, sp?.targetPort === "grpc" || sp?.targetPort === GRPC_PORT,
          `Service ${svc.metadata.name}: targetPort ${sp?.targetPort} is not the container's grpc port`);
  }
  for (const pdb of docs.filter((d) => d.kind === "PodDisruptionBudget")) {
    check(where, selects(pdb.spec?.selector?.matchLabels, podLabels),
          `PodDisruptionBudget ${pdb.metadata.name} selects no pod`);
    const min = pdb.spec?.minAvailable;
    check(where, !(Number.isInteger(min) && min >= (dep.spec.replicas ?? 1)),
          `PodDisruptionBudget minAvailable ${min} >= replicas: node drains would block`);
  }
  if (name !== "podman-test") {
    check(where, docs.some((d) => d.kind === "Service"), "no Service");
    check(where, docs.some((d) => d.kind === "PodDisruptionBudget"), "no PodDisruptionBudget");
  }
}

// ---- per file ----
for (const [name, file] of inputs) {
  const before = failures;
  const parsed = YAML.parseAllDocuments(readFileSync(file, "utf8"));
  const docs = [];
  for (const [i, doc] of parsed.entries()) {
    const where = `${name}[${i}]`;
    if (doc.errors.length) {
      fail(where, `YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj === null) continue;
    docs.push(obj);
    const [group, version] = obj.apiVersion?.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
    const modPath = `kubernetes-models/${group ? group + "/" : ""}${version}/${obj.kind}`;
    let Model;
    try {
      Model = require(modPath)[obj.kind];
    } catch (e) {
      fail(where, `no schema for ${obj.apiVersion} ${obj.kind} (${e.code ?? e.message})`);
      continue;
    }
    const what = `${obj.kind} ${obj.metadata?.name}`;
    checks++;
    try {
      new Model(obj).validate();
    } catch (e) {
      fail(`${where} ${what}`, `schema: ${e.message}`);
    }
    checks++;
    walkFields(obj, join(nodeModules, modPath + ".d.ts"), obj.kind, `${where} ${what}`);
  }
  policy(name, docs);
  console.log(`validate: ${name}: ${docs.length} documents, ${failures === before ? "ok" : `${failures - before} problems`}`);
}
console.log(`validate: ${checks} checks, ${failures} failures`);
process.exit(failures ? 1 : 0);
