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
