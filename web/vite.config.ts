/**
 * Builds the staff console into dist/console, served by the server at /console
 * (src/http/console.ts). Run from the repository root (`npm run build:web`).
 * No inline script and no third-party asset: the console's CSP allows this origin only.
 */
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: 'web',
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    // Inlined assets would need data: in the CSP for scripts and fonts; keep them files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
});
