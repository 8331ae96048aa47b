// How a crafted service is told which port to listen on: a --port/--bind/--listen option
// found in its parsed --help, and always the PORT, BIND and HOST environment variables
// (the convention of twelve-factor programs), all naming 127.0.0.1 only.
import type { HelpParam } from "../model/craft.js";
import { LOOPBACK } from "./port.js";

export interface PortBinding {
  args: string[];
  env: Record<string, string>;
  /** How the port was passed, for the log and the usage text. */
  how: string;
}

const PORT_FLAGS = ["--port", "--http-port", "--listen-port"];
const ADDRESS_FLAGS = ["--bind", "--listen", "--addr", "--address", "--http-addr", "--listen-addr"];

function option(params: HelpParam[], flags: string[]): HelpParam | undefined {
  return params.find((p) => p.kind === "option" && p.flag !== undefined && flags.includes(p.flag));
}

export function portBinding(params: HelpParam[] | undefined, port: number): PortBinding {
  const env = { PORT: String(port), BIND: `${LOOPBACK}:${port}`, HOST: LOOPBACK };
  const portFlag = option(params ?? [], PORT_FLAGS);
  const addressFlag = option(params ?? [], ADDRESS_FLAGS);
  const args: string[] = [];
  // With a port option the address option names the host alone; without, host and port.
  if (portFlag) args.push(portFlag.flag!, String(port));
  if (addressFlag) args.push(addressFlag.flag!, portFlag ? LOOPBACK : `${LOOPBACK}:${port}`);
  const how = args.length > 0 ? `${args.join(" ")} (and PORT=${port})` : `PORT=${port} BIND=${env.BIND}`;
  return { args, env, how };
}
