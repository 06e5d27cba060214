// Builds the dashboard into dist/web, which Nudge's server serves at `/`
// (src/server/dashboard/). No React plugin: JSX is compiled by Vite's own
// transform, and there is no dev server to hot-reload.
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'web',
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
});
