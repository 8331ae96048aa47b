// Progress notifications for a request that waits on a craft: one at every stage change
// and a heartbeat at least every 15 seconds, while the request carried a progressToken.
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { STAGES, type Craft } from "../model/craft.js";

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export const HEARTBEAT_MS = 10_000;

export interface ProgressReporter {
  update(craft: Craft, note: string): void;
  stop(): void;
}

export function progressReporter(extra: Extra, initial: Craft): ProgressReporter {
  const token = extra._meta?.progressToken;
  if (token === undefined) return { update: () => {}, stop: () => {} };
  let count = 0;
  let last = initial;
  let lastNote = initial.message;
  const send = () => {
    count += 1;
    const stageIndex = last.stage ? STAGES.indexOf(last.stage) + 1 : 0;
    // progress must increase with every notification: stage index, then a fraction for heartbeats
    const progress = stageIndex + Math.min(count / 1000, 0.999);
    extra
      .sendNotification({
        method: "notifications/progress",
        params: { progressToken: token, progress, total: STAGES.length + 1, message: `${last.stage ?? "queued"}: ${lastNote}` },
      })
      .catch(() => {});
  };
  const timer = setInterval(send, HEARTBEAT_MS);
  send();
  return {
    update(craft, note) {
      last = craft;
      lastNote = note;
      send();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
