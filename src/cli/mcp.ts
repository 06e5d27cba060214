// `nudge mcp`: serves the MCP server of src/mcp/ over stdio until the client
// closes stdin (or SIGINT / SIGTERM). stdout carries only the protocol: any
// console output is sent to stderr while it runs.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { makeMcpServer } from '../mcp/server.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';

export async function mcp(options: GlobalOptions, io: Io): Promise<number> {
  for (const method of ['log', 'info', 'debug'] as const) console[method] = console.error;
  const nudge = makeMcpServer({
    ...(options.config ? { config: options.config } : {}),
    cwd: io.cwd,
    env: io.env,
  });
  const closed = new Promise<void>((resolve) => {
    nudge.server.server.onclose = resolve;
  });
  const stop = () => void nudge.close();
  process.stdin.once('end', stop);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await nudge.connect(new StdioServerTransport());
    io.err(io.colors.dim('nudge mcp: serving on stdio'));
    await closed;
  } finally {
    process.stdin.off('end', stop);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await nudge.close();
  }
  return 0;
}
