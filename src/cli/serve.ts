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
import { isPresetName } from '../platform/presets.js';
import { resolveHostView, resolvePlatform } from '../host/resolve.js';
import { defineCommand, int, str } from './args.js';
import { readFailure } from './output.js';
import { HOST_SOURCE_OPTIONS, hostSource } from './host-options.js';

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

/** A host the server computes (a real /sys, a sysfs export, a snapshot) and sends as HostView JSON. */
export interface ServedSource {
  readonly id: string;
  readonly label: string;
  load(): Promise<HostView>;
}

/** A platform file given on the command line: the browser gets its text and models it itself. */
export interface ServedPlatform {
  readonly id: string;
  readonly label: string;
  readonly file: string;
  readonly text: string;
}

export interface ServeOptions {
  readonly sources: readonly ServedSource[];
  readonly platforms?: readonly ServedPlatform[];
  /** Source the page opens first: a served id, or `preset:NAME` (modelled in the browser). */
  readonly initial?: string;
  /** Kernel version the page starts with for platforms. */
  readonly kernel?: string;
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
          platforms: (opts.platforms ?? []).map((p) => ({
            id: p.id,
            label: p.label,
            file: p.file,
            text: p.text,
          })),
          initial: opts.initial,
          kernel: opts.kernel,
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
    throw new InputError(`cannot read the snapshot: ${readFailure(e)}`, {
      file,
      hint: 'create one on the host with "iovamap snapshot --out FILE"',
    });
  }
  // A host snapshot, the page's own JSON, or a bare reserved_regions file; parsed now so a broken file
  // is reported on the command line, not in the browser.
  const view = hostViewFromText(text, { file });
  return { id: `snapshot:${file}`, label: `snapshot ${file}`, load: async () => view };
}

/** The preset a newcomer sees first when the host has no IOMMU groups: the ARM MSI window story. */
export const DEFAULT_PRESET = 'qemu-virt-smmuv3-gicv3';

export const serveCommand = defineCommand(
  {
    name: 'serve',
    summary: 'open the web view: IOMMU groups, reserved regions and MSI windows drawn over the IOVA space',
    description:
      'Starts a local web server (127.0.0.1 by default) and prints its URL. The page shows every IOMMU group as a lane\n' +
      'over the 64-bit IOVA space, a VMM layout over the groups you assign, the MSI path of a device and scenario runs.\n' +
      'Without a source it shows this host when it has IOMMU groups, else the built-in ' +
      DEFAULT_PRESET +
      ' platform;\nevery built-in platform is one click away in the page. Drop a snapshot or a reserved_regions file on the page.',
    options: [
      { name: 'port', type: 'int', metavar: 'N', help: 'TCP port (default: any free port)' },
      { name: 'host', type: 'string', metavar: 'ADDR', help: 'address to bind (default 127.0.0.1)' },
      ...HOST_SOURCE_OPTIONS,
    ],
    examples: [
      ['iovamap serve', 'start on a free port and print the URL'],
      ['iovamap serve --platform qemu-virt-smmuv3-gicv2 --kernel 6.1', 'open on a built-in platform'],
      ['iovamap serve --port 8080 --snapshot host.json', 'show a host snapshot on port 8080'],
    ],
  },
  async (args) => {
    const src = hostSource(args);
    const port = int(args, 'port') ?? 0;
    if (port > 65535) throw new InputError(`--port ${port}: not a TCP port (0-65535)`);
    const host = str(args, 'host') ?? '127.0.0.1';
    const sources: ServedSource[] = [];
    const platforms: ServedPlatform[] = [];
    let initial: string | undefined;
    if (src.kernel !== undefined && src.platform === undefined)
      throw new InputError('--kernel applies to --platform only', {
        hint: 'a real host, an export or a snapshot shows the kernel it was taken from',
      });
    if (src.platform !== undefined) {
      if (isPresetName(src.platform)) initial = `preset:${src.platform}`;
      else {
        // Validate here (errors name the file and line), then let the browser model it.
        resolvePlatform(src.platform);
        const text = await readFile(src.platform, 'utf8');
        platforms.push({
          id: `platform:${src.platform}`,
          label: `platform ${src.platform}`,
          file: src.platform,
          text,
        });
        initial = platforms[0]!.id;
      }
    } else if (src.snapshot !== undefined) {
      sources.push(await snapshotSource(src.snapshot));
      initial = sources[0]!.id;
    } else if (src.sysfs !== undefined) {
      const view = resolveHostView({ sysfs: src.sysfs });
      sources.push({ id: `sysfs:${src.sysfs}`, label: `sysfs ${src.sysfs}`, load: async () => view });
      initial = sources[0]!.id;
    } else {
      // No source: this host when it shows IOMMU groups (read again on every load), else a preset.
      let groups = 0;
      try {
        groups = resolveHostView({}).groups.length;
      } catch {
        groups = 0;
      }
      if (groups > 0) {
        sources.push({ id: 'host', label: 'this host (/sys)', load: async () => resolveHostView({}) });
        initial = 'host';
      } else {
        initial = `preset:${DEFAULT_PRESET}`;
      }
    }
    const s = await startServer({ sources, platforms, initial, kernel: src.kernel, host, port });
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
