/**
 * Typed errors in the style of viem: a short message for people, plus structured details.
 * Mechanisms that model the kernel never throw for bad ioctl input (they answer -errno); these errors
 * are for input at the edge (files, CLI arguments, scenario steps) and for programming mistakes.
 */

export interface ErrorDetails {
  /** File the problem is in, when it came from a file. */
  file?: string;
  /** 1-based line, when known. */
  line?: number;
  /** 1-based column, when known. */
  column?: number;
  /** Dotted path of the field, e.g. `devices[2].bdf`. */
  field?: string;
  /** A hint that tells the user what to do. */
  hint?: string;
  /** Extra free-form details (shown indented). */
  details?: string;
  cause?: unknown;
}

export class IovamapError extends Error {
  override readonly name: string = 'IovamapError';
  readonly shortMessage: string;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly field: string | undefined;
  readonly hint: string | undefined;
  readonly details: string | undefined;

  constructor(shortMessage: string, d: ErrorDetails = {}) {
    super(IovamapError.compose(shortMessage, d), d.cause === undefined ? undefined : { cause: d.cause });
    this.shortMessage = shortMessage;
    this.file = d.file;
    this.line = d.line;
    this.column = d.column;
    this.field = d.field;
    this.hint = d.hint;
    this.details = d.details;
  }

  /** `file:line:col: field: message` then indented details and hint. */
  static compose(msg: string, d: ErrorDetails): string {
    let loc = '';
    if (d.file !== undefined) {
      loc = d.file;
      if (d.line !== undefined) loc += `:${d.line}`;
      if (d.line !== undefined && d.column !== undefined) loc += `:${d.column}`;
      loc += ': ';
    }
    const field = d.field !== undefined ? `${d.field}: ` : '';
    let s = `${loc}${field}${msg}`;
    if (d.details !== undefined) s += `\n  ${d.details.replace(/\n/g, '\n  ')}`;
    if (d.hint !== undefined) s += `\n  hint: ${d.hint}`;
    return s;
  }
}

/** A user's input is wrong (file, argument, scenario). CLI exit status 2. */
export class InputError extends IovamapError {
  override readonly name: string = 'InputError';
}

/** Something the user asked for does not exist (preset, group, device). CLI exit status 2. */
export class NotFoundError extends IovamapError {
  override readonly name: string = 'NotFoundError';
}

export function isIovamapError(e: unknown): e is IovamapError {
  return e instanceof IovamapError;
}

/**
 * YAML and JSON text holds no C0 control characters other than tab, LF and CR: one of them means the
 * file is binary (or not what the user meant). Throws an InputError naming the file, line and column of
 * the first one; `what` names the expected format ("YAML").
 */
export function assertTextInput(text: string, file: string, what = 'YAML'): void {
  // eslint-disable-next-line no-control-regex
  const m = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.exec(text);
  if (m === null) return;
  const before = text.slice(0, m.index);
  const line = before.split('\n').length;
  const column = m.index - before.lastIndexOf('\n');
  const code = m[0].charCodeAt(0).toString(16).padStart(2, '0');
  throw new InputError(`not a ${what} text file: control character 0x${code}`, {
    file,
    line,
    column,
    hint: 'give a text file (is it binary, compressed or in another encoding?)',
  });
}
