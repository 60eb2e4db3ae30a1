/**
 * Data files shipped with the package (presets/*.yaml, scenarios/*.yaml), embedded at build time so
 * the same code runs in Node and in the browser. Keys are repository-relative paths.
 */
import { EMBEDDED_FILES } from './data.generated.js';

export function embeddedFile(path: string): string | undefined {
  return EMBEDDED_FILES[path];
}

export function embeddedFiles(prefix: string): string[] {
  return Object.keys(EMBEDDED_FILES)
    .filter((k) => k.startsWith(prefix))
    .sort();
}
