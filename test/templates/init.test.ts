// `nudge init --template <name>` offers every premade feature of
// examples/demo: each one is written with the email templates it uses, and
// a name that is not a template is refused with the list.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { init } from '../../src/cli/init.js';
import { memoryIo } from '../../src/cli/io.js';
import { loadFeatures } from '../../src/features/load.js';

const DEMO = path.resolve('examples/demo/nudge');
const PREMADE = ['abandoned-cart', 'order-confirmation', 'trial-ending', 'weekly-digest'];

describe('nudge init --template', () => {
  it('writes each premade feature, and the templates its emails name', async () => {
    const names = (await readdir(path.join(DEMO, 'features'))).map((f) => f.replace(/\.yaml$/, ''));
    expect(names).toEqual(expect.arrayContaining(PREMADE));
    for (const name of names) {
      const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-init-'));
      const { io, stdout } = memoryIo({ cwd });
      expect(await init({ template: name }, io)).toBe(0);
      expect(stdout()).toContain(`+ nudge/features/${name}.yaml`);
      const written = await readFile(path.join(cwd, `nudge/features/${name}.yaml`), 'utf8');
      // As premade, but its $schema is the installed package's (the repository's path is wrong here).
      const premade = await readFile(path.join(DEMO, `features/${name}.yaml`), 'utf8');
      expect(written).toBe(
        premade.replace(
          '$schema=../../../../schema/feature.schema.json',
          '$schema=../../node_modules/nudge/schema/feature.schema.json',
        ),
      );
      const [feature] = await loadFeatures(path.join(cwd, 'nudge/features'), {}, cwd);
      expect(feature?.name).toBe(name);
      const templates = new Set(await readdir(path.join(cwd, 'nudge/templates')));
      for (const stage of feature!.machine.stages.values()) {
        for (const action of stage.actions) {
          if (action.kind === 'email')
            expect(templates).toContain(`${action.params.template}.liquid`);
        }
      }
    }
  });

  it('points the $schema of what it writes at the schemas the package ships, and names every transport', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-init-'));
    // The package as npm installs it: node_modules/nudge with its schema/ folder.
    await mkdir(path.join(cwd, 'node_modules'));
    await symlink(path.resolve('.'), path.join(cwd, 'node_modules/nudge'));
    const { io, stdout } = memoryIo({ cwd });
    expect(await init({}, io)).toBe(0);
    for (const file of ['nudge.yaml', 'nudge/features/welcome-drip.yaml']) {
      const text = await readFile(path.join(cwd, file), 'utf8');
      const schema = /\$schema=(\S+)/.exec(text)![1]!;
      expect(existsSync(path.resolve(path.dirname(path.join(cwd, file)), schema)), file).toBe(true);
    }
    const config = await readFile(path.join(cwd, 'nudge.yaml'), 'utf8');
    expect(config).toContain(
      '# outbox (transactional), webhook (pg_net) or replication (a logical replication slot, no trigger)',
    );
    expect(stdout()).toContain(
      'nudge deploy    install capture: the nudge schema and triggers (with capture: replication, publications and a slot)',
    );
  });

  it('refuses a name that is not a template, listing the ones there are', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-init-'));
    const { io } = memoryIo({ cwd });
    await expect(init({ template: 'abandoned-carts' }, io)).rejects.toMatchObject({
      message: 'no template named "abandoned-carts" (did you mean "abandoned-cart"?)',
      hint: expect.stringContaining('weekly-digest'),
    });
  });
});
