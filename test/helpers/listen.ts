// Every stand-in server listens on 127.0.0.1, port 0, and closes its open connections too.
import type http from "node:http";
import type { AddressInfo } from "node:net";

export interface Listening {
  url: string;
  close: () => Promise<void>;
}

export async function listenOnLoopback(server: http.Server): Promise<Listening> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
