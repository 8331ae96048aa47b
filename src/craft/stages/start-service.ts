// The last step of a service craft: start the verified program as a service and wait for
// its health check, so the craft is ready only when the service answers.
import { type StageFn } from "../context.js";
import { CraftError } from "../../model/errors.js";
import type { Craft } from "../../model/craft.js";
import type { ServiceManager } from "../../service/manager.js";
import { ServiceError } from "../../service/supervisor.js";

export function startServiceStage(services: ServiceManager): StageFn {
  return async (ctx, craft) => {
    try {
      const service = await services.start(craft, ctx.signal);
      ctx.log(`service: running at ${service.url}`);
      return { service, usage: serviceUsage({ ...craft, service }) };
    } catch (err) {
      if (err instanceof ServiceError) throw new CraftError("register", err.message);
      throw err;
    }
  };
}

export function serviceUsage(craft: Craft): string {
  const n = craft.name;
  return [
    `The tool \`${n}\` is a running HTTP service (${craft.target?.bin ?? "the program"} ${craft.target?.version ?? ""}`.trimEnd() + `), supervised by Flakebot at ${craft.service?.url ?? "a loopback address"}.`,
    ``,
    `Call it with an HTTP request: ${n} {"method": "GET", "path": "/"}`,
    `Input: method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS; default GET), path (must start with "/", query string allowed), headers (an object of strings), body (text), timeout_ms.`,
    `The result has status, headers, body (capped at 1 MiB, then truncated is true) and duration_ms. The tool reaches only this service; redirects are returned, not followed.`,
    `The service keeps its data in its own directory; it is restarted if it crashes. describe_tool {"name": "${n}"} shows its state, restarts and log; dispose_tool stops it.`,
    ...(craft.help ? [``, `Its --help says:`, craft.help.trim().split("\n").slice(0, 30).join("\n")] : []),
  ].join("\n");
}
