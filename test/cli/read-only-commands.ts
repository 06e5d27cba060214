// The commands that connect to the source and must work read-only, with what
// each prints when it did its work: shared by the read-only proofs on a
// direct connection and through a session pooler.
export const READ_ONLY_COMMANDS = [
  { command: 'analyze', done: /auth\.users/ },
  { command: 'plan', done: /\(read-only\)/ },
  { command: 'doctor', done: /access read-only/ },
  { command: 'deploy --sql', done: /CREATE SCHEMA IF NOT EXISTS nudge/ },
  { command: 'export --supabase', done: /_nudge_deploy\.sql/ },
];
