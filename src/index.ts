#!/usr/bin/env node
// Entry: `flakebot` (or `flakebot serve`) is the MCP server; other subcommands are the
// command line, sharing the same state directory and implementation.
import { serve } from "./serve.js";
import { runCli } from "./cli/main.js";

const argv = process.argv.slice(2);

if (argv.length === 0 || argv[0] === "serve") {
  serve().catch((err) => {
    process.stderr.write(`flakebot: ${(err as Error).message}\n`);
    process.exit(1);
  });
} else {
  runCli(argv).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`flakebot: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
