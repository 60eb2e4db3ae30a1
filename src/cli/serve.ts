/**
 * `iovamap serve`: a local web app showing IOVA address spaces. Serves the prebuilt front end shipped in
 * the package (dist/web, built by `npm run build`; nothing is built at run time) and a small JSON API for
 * what the browser cannot compute itself: a snapshot file named on the command line, or the real host's
 * /sys. Built-in platforms are computed in the browser by the same library code.
 * Binds 127.0.0.1 unless told otherwise.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../base/errors.js';
import type { HostView } from '../host/view.js';
import { hostViewToJson } from '../web/hostview-json.js';
import { hostViewFromText } from '../web/paste.js';
import { defineCommand, int, str } from './args.js';

/** Where `vite build` put the front end: dist/web next to dist/src. */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export interface ServedSource {
  readonly id: string;
  readonly label: string;
  load(): Promise<HostView>;
}

export interface ServeOptions {
  readonly sources: readonly ServedSource[];
  readonly initial?: string;
  readonly root?: string;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

/** The request handler (exported for tests that drive it without a socket). */
export function makeHandler(opts: ServeOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const root = opts.root ?? WEB_ROOT;
  return (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, 'text/plain', 'method not allowed\n');
        return;
      }
      if (url.pathname === '/api/session') {
        const body = {
          sources: opts.sources.map((s) => ({ id: s.id, label: s.label })),
          initial: opts.initial,
        };
        send(res, 200, TYPES['.json']!, JSON.stringify(body));
        return;
      }
      if (url.pathname === '/api/view') {
        const s = opts.sources.find((x) => x.id === url.searchParams.get('id'));
        if (!s) {
          send(res, 404, 'text/plain', `no source ${JSON.stringify(url.searchParams.get('id'))}\n`);
          return;
        }
        try {
          send(res, 200, TYPES['.json']!, hostViewToJson(await s.load()));
        } catch (e) {
          send(res, 422, 'text/plain', e instanceof Error ? e.message : String(e));
        }
        return;
      }
      let rel = decodeURIComponent(url.pathname);
      if (rel.endsWith('/')) rel += 'index.html';
      const file = normalize(join(root, rel));
      if (!file.startsWith(normalize(root + sep)) && file !== normalize(root)) {
        send(res, 403, 'text/plain', 'forbidden\n');
        return;
      }
      try {
        const st = await stat(file);
        if (!st.isFile()) throw new Error('not a file');
        send(res, 200, TYPES[extname(file)] ?? 'application/octet-stream', await readFile(file));
      } catch {
        send(res, 404, 'text/plain', 'not found\n');
      }
    })();
  };
}

/** Starts the server; resolves with its URL once listening. */
export async function startServer(
  opts: ServeOptions & { host: string; port: number },
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(makeHandler(opts));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new InputError(`--port ${opts.port}: the port is in use`, {
              hint: 'pick another with --port, or --port 0 for any free port',
            })
          : e.code === 'EADDRNOTAVAIL'
            ? new InputError(`--host ${opts.host}: not an address of this machine`)
            : e,
      ),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function snapshotSource(file: string): Promise<ServedSource> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read the snapshot: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      file,
    });
  }
  // Parse now so a broken file is reported on the command line, not in the browser.
  const view = hostViewFromText(text, { file });
  return { id: `snapshot:${file}`, label: `snapshot ${file}`, load: async () => view };
}

export const serveCommand = defineCommand(
  {
    name: 'serve',
    summary: 'Open the web view: IOMMU groups, reserved regions and MSI windows drawn over the IOVA space',
    description:
      'Starts a local web server (127.0.0.1 by default) and prints its URL. The page shows every IOMMU group as a lane\n' +
      'over the 64-bit IOVA space. You can drop a snapshot or a reserved_regions file on the page.',
    options: [
      { name: 'port', short: 'p', type: 'int', metavar: 'N', help: 'TCP port (default: any free port)' },
      { name: 'host', type: 'string', metavar: 'ADDR', help: 'address to bind (default 127.0.0.1)' },
      {
        name: 'snapshot',
        type: 'string',
        metavar: 'FILE',
        help: 'show a snapshot (iovamap JSON or a reserved_regions file)',
      },
    ],
    examples: [
      ['iovamap serve', 'start on a free port and print the URL'],
      ['iovamap serve --port 8080 --snapshot host.json', 'show a saved snapshot on port 8080'],
    ],
  },
  async (args) => {
    const sources: ServedSource[] = [];
    const snap = str(args, 'snapshot');
    if (snap !== undefined) sources.push(await snapshotSource(snap));
    const port = int(args, 'port') ?? 0;
    if (port > 65535) throw new InputError(`--port ${port}: not a TCP port (0-65535)`);
    const host = str(args, 'host') ?? '127.0.0.1';
    const s = await startServer({ sources, initial: sources[0]?.id, host, port });
    process.stdout.write(`iovamap web view: ${s.url}\n`);
    process.stdout.write('  (Ctrl+C to stop)\n');
    await new Promise<void>((resolve) => {
      const stop = () => {
        void s.close().then(resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
);
