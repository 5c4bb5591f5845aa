/**
 * @module http/console
 * Serves the staff console — the single-page app in web/, built by Vite into
 * dist/console — at `/console`. The files are read once at start. Hashed assets
 * (`/console/assets/…`) may be cached for good; every other path under /console answers the
 * app's page (the app routes on the client) with `no-store` and the console's own CSP:
 * scripts, styles and fetches from this origin only, nothing inline, nothing third-party.
 * The console holds no data of its own: everything it shows comes from the /v1 API.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Config } from '../config/index.js';
import { consoleCsp } from './security.js';

export const CONSOLE_PREFIX = '/console';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

interface Asset {
  body: Buffer;
  type: string;
}

/** The repository (or installed package) root: the nearest folder with a package.json. */
function packageRoot(from: string): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) return from;
    dir = up;
  }
  return dir;
}

/** Where `npm run build` puts the console. */
export const CONSOLE_DIR = path.join(packageRoot(import.meta.dirname), 'dist', 'console');

function readAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const assetDir = path.join(dir, 'assets');
  if (!fs.existsSync(assetDir)) return assets;
  for (const name of fs.readdirSync(assetDir)) {
    const type = TYPES[path.extname(name)];
    if (type) assets.set(name, { body: fs.readFileSync(path.join(assetDir, name)), type });
  }
  return assets;
}

export function consolePlugin(config: Config, dir = CONSOLE_DIR): FastifyPluginAsync {
  return (app) => {
    const indexFile = path.join(dir, 'index.html');
    const index = fs.existsSync(indexFile) ? fs.readFileSync(indexFile) : null;
    if (!index) app.log.warn('the staff console is not built (npm run build); /console is 404');
    const assets = readAssets(dir);
    const csp = consoleCsp(config);

    const sendIndex = (reply: FastifyReply) => {
      if (!index) return reply.callNotFound();
      return reply
        .header('content-security-policy', csp)
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(index);
    };

    app.get('/', { schema: { hide: true } }, (_req, reply) => sendIndex(reply));
    app.get('/*', { schema: { hide: true } }, (req, reply) => {
      const rest = (req.params as { '*': string })['*'];
      if (rest.startsWith('assets/')) {
        const asset = assets.get(rest.slice('assets/'.length));
        if (!asset) return reply.callNotFound();
        return reply
          .header('cache-control', 'public, max-age=31536000, immutable')
          .type(asset.type)
          .send(asset.body);
      }
      return sendIndex(reply);
    });
    return Promise.resolve();
  };
}
