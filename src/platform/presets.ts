/**
 * Built-in platforms: the YAML files in presets/, embedded at build time (src/presets/embedded.ts) so
 * they load the same way in Node and in the browser. Presets are data only: nothing here knows any
 * particular preset.
 */
import { NotFoundError } from '../base/errors.js';
import { embeddedFile, embeddedFiles } from '../presets/embedded.js';
import { closest } from './validate.js';
import { loadPlatformText } from './load.js';
import type { PlatformDescription } from './types.js';

const DIR = 'presets/';
const EXT = '.yaml';

/** Names of the built-in platforms, sorted. */
export function presetNames(): string[] {
  return embeddedFiles(DIR)
    .filter((p) => p.endsWith(EXT))
    .map((p) => p.slice(DIR.length, -EXT.length));
}

export function isPresetName(name: string): boolean {
  return embeddedFile(`${DIR}${name}${EXT}`) !== undefined;
}

/** The YAML text of a preset (for `--platform NAME --show`, the web view, docs). */
export function presetText(name: string): string {
  const text = embeddedFile(`${DIR}${name}${EXT}`);
  if (text === undefined) throw unknownPreset(name);
  return text;
}

const cache = new Map<string, PlatformDescription>();

/** Loads and validates a built-in platform by name; NotFoundError lists the names for a bad one. */
export function loadPreset(name: string): PlatformDescription {
  const hit = cache.get(name);
  if (hit) return hit;
  const desc = loadPlatformText(presetText(name), `${DIR}${name}${EXT}`);
  cache.set(name, desc);
  return desc;
}

function unknownPreset(name: string): NotFoundError {
  const names = presetNames();
  const near = closest(name, names);
  return new NotFoundError(`no built-in platform "${name}"`, {
    details: `built-in platforms: ${names.join(', ')}`,
    hint: near !== undefined ? `did you mean "${near}"?` : 'or give the path of a platform YAML/JSON file',
  });
}
