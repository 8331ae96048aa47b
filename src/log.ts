// Every log line goes to stderr: stdout of the server is the MCP protocol.
// A sink can be attached (the MCP server forwards lines as logging messages).

export type LogLevel = "debug" | "info" | "warning" | "error";

type Sink = (level: LogLevel, message: string) => void;

const order: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3 };
let threshold: LogLevel = (process.env.FLAKEBOT_LOG_LEVEL as LogLevel) in order
  ? (process.env.FLAKEBOT_LOG_LEVEL as LogLevel)
  : "info";
const sinks = new Set<Sink>();

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export function addLogSink(sink: Sink): () => void {
  sinks.add(sink);
  return () => sinks.delete(sink);
}

function emit(level: LogLevel, message: string): void {
  if (order[level] < order[threshold]) return;
  process.stderr.write(`flakebot ${level}: ${message}\n`);
  for (const sink of sinks) {
    try {
      sink(level, message);
    } catch {
      // a broken sink must never break logging
    }
  }
}

export const log = {
  debug: (m: string) => emit("debug", m),
  info: (m: string) => emit("info", m),
  warn: (m: string) => emit("warning", m),
  error: (m: string) => emit("error", m),
};
