/** The source options every host-reading command shares (inspect, snapshot, check, plan, serve). */
import type { OptionSpec, ParsedArgs } from './args.js';
import { str } from './args.js';
import { KERNEL_VERSIONS } from '../kernel/profile.js';
import type { HostSource } from '../host/resolve.js';

export const HOST_SOURCE_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'platform',
    type: 'string',
    short: 'p',
    metavar: 'NAME|FILE',
    help: 'model a built-in platform (see "iovamap inspect --list") or a platform YAML/JSON file',
  },
  {
    name: 'sysfs',
    type: 'string',
    metavar: 'DIR',
    help: 'read a sysfs tree: /sys or an "iovamap sysfs export" directory',
  },
  {
    name: 'snapshot',
    type: 'string',
    metavar: 'FILE',
    help: 'read a host snapshot written by "iovamap snapshot" ("-": standard input)',
  },
  {
    name: 'kernel',
    type: 'string',
    short: 'k',
    metavar: 'V',
    help: 'kernel version to model with --platform (default 6.12)',
    choices: KERNEL_VERSIONS,
  },
];

export function hostSource(a: ParsedArgs): HostSource {
  const platform = str(a, 'platform');
  const sysfs = str(a, 'sysfs');
  const snapshot = str(a, 'snapshot');
  const kernel = str(a, 'kernel');
  // IOVAMAP_SYSFS_ROOT: where to look when no source is given (default /sys); for tests and chroots.
  const root = process.env['IOVAMAP_SYSFS_ROOT'];
  return {
    ...(root !== undefined && root !== '' ? { defaultSysfs: root } : {}),
    ...(platform !== undefined ? { platform } : {}),
    ...(sysfs !== undefined ? { sysfs } : {}),
    ...(snapshot !== undefined ? { snapshot } : {}),
    ...(kernel !== undefined ? { kernel } : {}),
  };
}
