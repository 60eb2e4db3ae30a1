/** The reserved_regions dumps of peers.md §3 (test/vmm/fixtures/*.txt), read from the source tree. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HostView } from '../../src/host/view.js';
import { hostViewFromRegions } from '../../src/vmm/regions-host.js';
import type { Arch } from '../../src/platform/types.js';

/** Absolute path of a fixture (tests run from dist/test/vmm, fixtures stay in test/vmm/fixtures). */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../../../test/vmm/fixtures/${name}`, import.meta.url));
}

export function fixtureText(name: string): string {
  return readFileSync(fixturePath(name), 'utf8');
}

/** One group (number `group`, devices `devices`) whose reserved regions are the dump `name`. */
export function dumpHost(name: string, arch: Arch, group = 1, devices: string[] = []): HostView {
  return hostViewFromRegions([{ name, text: fixtureText(name), group, devices }], { arch });
}
