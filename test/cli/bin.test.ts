// The built `nudge` executable, as `npm start` runs it: exit codes reach the
// shell, and `nudge dev --once` takes a newcomer from nothing to the demo's
// story on an embedded database (its own server, in a temporary directory):
// emails, webhooks delivered and one dead, the clock moved for the drip.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { openDemoDatabase } from '../../src/dev/demo.js';
import { listenOn } from '../../src/dev/port.js';
import { waitFor } from '../harness/wait.js';
import { exited } from './exec.js';

const BIN = path.resolve('dist/cli/main.js');

function nudge(args: string[], cwd: string) {
  return exited('node', [BIN, ...args], { cwd, env: { ...process.env, CI: 'true' } });
}

describe('the nudge executable', () => {
  it('exits non-zero with a one-line error and a hint when there is no database', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-bin-'));
    const result = await nudge(['plan'], cwd);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('✗ no database configured');
    expect(result.stderr).toContain('hint:');
    // The engine store's commands too, making no new embedded database of their own
    // (it would answer about an empty one, not the database meant).
    for (const args of [['logs'], ['keys', 'list']]) {
      const store = await nudge(args, cwd);
      expect(store.code, args.join(' ')).toBe(1);
      expect(store.stderr).toContain('✗ no database configured');
    }
    expect(existsSync(path.join(cwd, '.nudge'))).toBe(false);
  });

  it('plays the demo story: embedded Postgres, deployed features, emails, a dead webhook, two days later', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-bin-'));
    await chmod(cwd, 0o755);
    try {
      const result = await nudge(['dev', '--once', '--data-dir', path.join(cwd, 'pg')], cwd);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const out = result.stdout;
      expect(out).toMatch(/^✓ Deployed \(deployment #1: \d+ created, 0 replaced, 0 dropped\)/m);
      expect(out).toMatch(/^Dashboard: http:\/\/127\.0\.0\.1:\d+\/\?token=\S+$/m);
      expect(out).toMatch(/^Ready in \d+\.\d s\. /m);
      const step = (title: string) => {
        const start = out.indexOf(`  ${title}`);
        expect(start, `${title} in:\n${out}`).toBeGreaterThan(-1);
        const rest = out.slice(start + 2);
        const end = rest.search(/\n {2}\S|\n\n/);
        return rest.slice(0, end === -1 ? undefined : end);
      };
      expect(step('Sign-ups')).toContain('ada@example.com and grace@example.com signed up');
      expect(step('Sign-ups')).toContain('→ welcome-drip: 2 emails sent');
      expect(step('Sign-in')).toContain('→ contact book: 1 contact synced (user.signed_in)');
      // The rolled-back order was never captured: one track, for the order checked out.
      expect(step('Orders')).toContain('→ heartbeat: event tracked');
      expect(step('Orders')).toContain('→ order-confirmation: email sent');
      expect(step('Upload')).toMatch(
        /→ upload-thumbnails: webhook dead after 3 attempts \(webhook answered 503/,
      );
      expect(step('Upload')).toContain('→ media service answered 503 to 3 attempts');
      // The enrichment captured in the trigger (the buyer's plan) reached the webhook body.
      expect(step('Order paid')).toContain('→ order-paid: webhook delivered');
      expect(step('Order paid')).toContain(
        '→ fulfilment service received {"plan":"pro","order":1,"total":42.5}',
      );
      const later = step('Two days later');
      expect(later).toContain('→ welcome-drip: 2 emails sent'); // day two
      expect(later).toContain('→ abandoned-cart: email sent');
      expect(later).toContain('→ trial-ending: email sent');
      expect(out).toContain("Actions  1 dead: the upload's webhook — the media service");
      expect(out).toContain('the engine is 2 days ahead of real time');
      // The commands for another terminal: one a line, each pasteable as it is.
      expect(out).toMatch(/from another terminal:\n {2}export DATABASE_URL="postgres:\/\/\S+"\n/);
      // Each carries the URL: pasted alone it works, nothing exported first.
      const pasteable = (args: string) =>
        new RegExp(
          `^ {2}DATABASE_URL="postgres://\\S+" node \\S+main\\.js --config \\S+nudge\\.yaml ${args}$`,
          'm',
        );
      expect(out).toMatch(pasteable('logs'));
      expect(out).toMatch(pasteable('replay --feature upload-thumbnails'));
      expect(out).toMatch(pasteable('clock advance 2d'));
      // A second run reuses the database, deploys nothing new, and plays the story again,
      // on another port while something else holds the configured one (8787).
      // It is held here, not merely found taken: another test's nudge dev may
      // have it now and let it go before this one starts.
      // A feature paused meanwhile (the dashboard's Pause): the next start says so before its story.
      const demo = await openDemoDatabase(path.join(cwd, 'pg'));
      const sql = postgres(demo.url, { max: 1, onnotice: () => {} });
      try {
        await sql`insert into nudge_engine.feature_pauses (feature, paused_by)
                  values ('abandoned-cart', 'dashboard')`;
      } finally {
        await sql.end();
        await demo.server.stop();
      }
      const holder = createServer();
      await waitFor(
        () => listenOn(holder, 8787).then((held) => held || undefined),
        'port 8787 free to hold',
        60_000,
      );
      const again = await nudge(['dev', '--once', '--data-dir', path.join(cwd, 'pg')], cwd).finally(
        () => new Promise((resolve) => holder.close(resolve)),
      );
      expect(again.stdout).toMatch(/^Dashboard: http:\/\/127\.0\.0\.1:(?!8787\/)\d+\/\?token=/m);
      expect(again.stdout).toContain('Port 8787 is taken by another process');
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('Deployed already, no changes');
      expect(again.stdout).toContain(
        'Paused: abandoned-cart (since an earlier start): the story below skips their events',
      );
      expect(again.stdout).toContain('ada+2@example.com and grace+2@example.com signed up');
      expect(again.stdout).toContain('the engine is 4 days ahead of real time');
      // The first run's dead webhook is still dead: counted apart from this start's.
      expect(again.stdout).toContain(
        "Actions  2 dead: this start's upload webhook and 1 left from an earlier start — the media service",
      );
      expect(again.stdout).toContain('Replay there delivers them.');
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
    // Two whole demo runs, a new database's initdb and up to a minute's wait
    // for port 8787: more than the default minute on a loaded machine (CI
    // beside other tests ran past it once).
  }, 240_000);
});
