/** Turns the server's `infill/status` answer into the status bar's text and tooltip. */

export interface LatencyStats {
  last?: number;
  mean?: number;
  p50?: number;
  p90?: number;
  count?: number;
}

export interface EngineStatus {
  state?: string;
  mode?: string;
  model?: string;
  device?: string;
  backend?: string;
  trained?: boolean;
  failures?: number;
  restarts?: number;
  last_error?: string;
  /** The remote engine's address (engine.url), when there is one. */
  url?: string;
  latency_ms?: LatencyStats;
  active?: number;
  queued?: number;
  completed?: number;
}

/** The workspace index (null: no workspace folders, or indexing off). */
export interface IndexStatus {
  state?: string;
  files?: number;
  lines?: number;
  definitions?: number;
  build_seconds?: number;
  from_cache?: number;
  age_seconds?: number | null;
  capped?: string;
}

export interface ServerStatus {
  version?: string;
  engine?: EngineStatus;
  requests?: Record<string, number>;
  documents?: number;
  index?: IndexStatus | null;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** "ok", "busy" or "error": the extension picks colours from it. */
  level: "ok" | "busy" | "error";
}

const ICONS: Record<string, string> = {
  ready: "$(sparkle)",
  starting: "$(loading~spin)",
  idle: "$(circle-outline)",
  down: "$(error)",
  closed: "$(circle-slash)",
};

/** "42 ms", "1.3 s": a latency in a few characters. */
export function formatMs(ms: number): string {
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  return `${(ms / 1000).toFixed(1)} s`;
}

/** What the status bar shows when the server answered `status`. */
export function statusView(status: ServerStatus): StatusView {
  const engine = status.engine ?? {};
  const state = engine.state ?? "unknown";
  const icon = ICONS[state] ?? "$(question)";
  const last = engine.latency_ms?.last;
  const text = state === "ready" && last !== undefined ? `${icon} infill ${formatMs(last)}` : `${icon} infill ${state}`;
  const level = state === "down" ? "error" : state === "ready" ? "ok" : "busy";
  return { text, tooltip: statusLines(status).join("\n"), level };
}

/** What the status bar shows when the server is not running or did not answer. */
export function unavailableView(reason: string): StatusView {
  return { text: "$(error) infill off", tooltip: `infill: ${reason}`, level: "error" };
}

/** "12 s", "5 min", "2 h": an age in a few characters. */
export function formatAge(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

/** The workspace index in one line; "" when there is none. */
export function indexLine(index: IndexStatus | null | undefined): string {
  if (!index) return "";
  const count = (n: number | undefined) => (n ?? 0).toLocaleString("en-US");
  if (index.state === "building") return `index: building, ${count(index.files)} files so far`;
  if (index.state !== "ready") return `index: ${index.state ?? "unknown"}`;
  let line = `index: ${count(index.files)} files, ${count(index.lines)} lines, ${count(index.definitions)} definitions`;
  line += `; built in ${(index.build_seconds ?? 0).toFixed(1)} s`;
  if (index.from_cache) line += ` (${count(index.from_cache)} files unchanged, from the cache)`;
  if (index.age_seconds !== undefined && index.age_seconds !== null) line += `, ${formatAge(index.age_seconds)} ago`;
  if (index.capped) line += `; stopped at the ${index.capped} cap`;
  return line;
}

/** A plain-text report of the status, one fact per line (tooltip and the Show Status command). */
export function statusLines(status: ServerStatus): string[] {
  const engine = status.engine ?? {};
  const lines = [`infill ${status.version ?? "?"}: engine ${engine.state ?? "unknown"} (${engine.mode ?? "?"} mode)`];
  if (engine.url) lines.push(`remote engine at ${engine.url}`);
  if (engine.model) {
    const untrained = engine.trained === false ? ", untrained" : "";
    lines.push(`model ${engine.model} on ${engine.device ?? "?"} (${engine.backend ?? "?"}${untrained})`);
  }
  const latency = engine.latency_ms ?? {};
  if (latency.count) {
    const parts = [`last ${formatMs(latency.last ?? 0)}`];
    if (latency.p50 !== undefined) parts.push(`p50 ${formatMs(latency.p50)}`);
    if (latency.p90 !== undefined) parts.push(`p90 ${formatMs(latency.p90)}`);
    lines.push(`latency ${parts.join(", ")} over ${latency.count} requests`);
  }
  if (engine.active !== undefined) {
    lines.push(`engine: ${engine.active} active, ${engine.queued ?? 0} queued, ${engine.completed ?? 0} completed`);
  }
  const requests = status.requests;
  if (requests && Object.keys(requests).length) {
    lines.push(
      "requests: " +
        Object.entries(requests)
          .map(([k, v]) => `${v} ${k}`)
          .join(", "),
    );
  }
  const index = indexLine(status.index);
  if (index) lines.push(index);
  if (engine.failures) {
    lines.push(`${engine.failures} consecutive failures, ${engine.restarts ?? 0} restarts`);
  }
  if (engine.last_error) {
    lines.push(`last error: ${engine.last_error}`);
  }
  return lines;
}
