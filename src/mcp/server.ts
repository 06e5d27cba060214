// `nudge mcp`: Nudge as a Model Context Protocol server, so assistants (Claude,
// Cursor, ...) can read the schema, validate and write draft features, plan,
// deploy with confirmation, and read decisions, action runs and contacts.
// Built on the official SDK; tools in tools.ts, resources in resources.ts.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { NUDGE_VERSION } from '../version.js';
import type { McpContext } from './context.js';
import { makeEngineApi } from './engine-api.js';
import { watchRequests } from './in-flight.js';
import { registerResources } from './resources.js';
import { registerTools } from './tools.js';

export interface NudgeMcp {
  server: McpServer;
  /** Serves on `transport`, keeping count of the requests received and not yet answered. */
  connect(transport: Transport): Promise<void>;
  /**
   * Answers the requests already received, then closes the server and the
   * engine store it may have opened: what `nudge mcp` does when the client
   * ends stdin (it may do so right after writing its last request) or on
   * SIGINT / SIGTERM. A request not answered within ANSWER_WAIT_MS (a long
   * tool call) is not waited for: the server's close aborts it.
   */
  close(): Promise<void>;
}

/** How long closing waits for the answers to the requests in hand. */
const ANSWER_WAIT_MS = 5000;

export function makeMcpServer(options: Omit<McpContext, 'engine'>): NudgeMcp {
  const engine = makeEngineApi();
  const context: McpContext = { ...options, engine };
  const server = new McpServer(
    { name: 'nudge', version: NUDGE_VERSION },
    {
      instructions:
        'Nudge turns row changes in a Supabase/PostgreSQL database into lifecycle actions. To author a feature: analyze_schema, read nudge://docs/configuration.md and the examples in nudge://features/, validate_feature, then write_draft_feature (status: draft). deploy changes the database: call plan first, show it, and deploy only when the person confirms.',
    },
  );
  registerTools(server, context);
  registerResources(server, context);
  let answered: (() => Promise<void>) | undefined;
  return {
    server,
    connect(transport) {
      answered = watchRequests(transport);
      return server.connect(transport);
    },
    async close() {
      if (answered) await within(answered(), ANSWER_WAIT_MS);
      await server.close();
      await engine.close();
    },
  };
}

/** Resolves when `promise` does, or after `ms`, whichever comes first. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([promise, elapsed]);
  } finally {
    clearTimeout(timer);
  }
}
