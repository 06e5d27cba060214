// `nudge mcp`: Nudge as a Model Context Protocol server, so assistants (Claude,
// Cursor, ...) can read the schema, validate and write draft features, plan,
// deploy with confirmation, and read decisions, action runs and contacts.
// Built on the official SDK; tools in tools.ts, resources in resources.ts.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { NUDGE_VERSION } from '../version.js';
import type { McpContext } from './context.js';
import { makeEngineApi } from './engine-api.js';
import { type InFlight, watchRequests } from './in-flight.js';
import { registerResources } from './resources.js';
import { registerTools } from './tools.js';

export interface NudgeMcp {
  server: McpServer;
  /**
   * Answers every request already received, then closes the server and the
   * engine store it may have opened: what `nudge mcp` does when the client
   * ends stdin (it may do so right after writing its last request) or on
   * SIGINT / SIGTERM.
   */
  close(): Promise<void>;
}

/** An McpServer that knows which of the requests it received it has not answered yet. */
class AnsweringServer extends McpServer {
  private inFlight: InFlight | undefined;

  override connect(transport: Transport): Promise<void> {
    this.inFlight = watchRequests(transport);
    return super.connect(transport);
  }

  /** Resolves once every request received so far has been answered. */
  answered(): Promise<void> {
    return this.inFlight?.answered() ?? Promise.resolve();
  }
}

export function makeMcpServer(options: Omit<McpContext, 'engine'>): NudgeMcp {
  const engine = makeEngineApi();
  const context: McpContext = { ...options, engine };
  const server = new AnsweringServer(
    { name: 'nudge', version: NUDGE_VERSION },
    {
      instructions:
        'Nudge turns row changes in a Supabase/PostgreSQL database into lifecycle actions. To author a feature: analyze_schema, read nudge://docs/configuration.md and the examples in nudge://features/, validate_feature, then write_draft_feature (status: draft). deploy changes the database: call plan first, show it, and deploy only when the person confirms.',
    },
  );
  registerTools(server, context);
  registerResources(server, context);
  return {
    server,
    async close() {
      await server.answered();
      await server.close();
      await engine.close();
    },
  };
}
