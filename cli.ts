/**
 * Synod's command line entry point: `deno run -A cli.ts <command>`.
 *
 * @example
 * ```sh
 * deno run -A cli.ts demo --nodes 3 --entries 1000
 * ```
 *
 * @module
 */

import { main } from "./lib/cli/main.ts";

export { type CliIo, main, VERSION } from "./lib/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
