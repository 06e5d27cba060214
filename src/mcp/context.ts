// What every MCP tool and resource is given: where `nudge mcp` runs and how
// it was started. The project is loaded again for each call, so edits to
// nudge.yaml and the feature files are seen without a restart.
import { memoryIo } from '../cli/io.js';
import { loadProject } from '../cli/project.js';
import type { LoadedConfig } from '../config/load.js';
import type { EngineApi } from './engine-api.js';

export interface McpContext {
  /** --config given to `nudge mcp`, passed on to every command. */
  config?: string;
  cwd: string;
  env: Record<string, string | undefined>;
  engine: EngineApi;
}

export function projectOf(context: McpContext): Promise<LoadedConfig> {
  const { io } = memoryIo({ cwd: context.cwd, env: context.env });
  return loadProject(context.config ? { config: context.config } : {}, io);
}
