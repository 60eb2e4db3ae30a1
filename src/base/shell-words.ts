/**
 * Command lines as users have them, split into words: a shell command or script (quotes, backslash
 * escapes and continuations, `#` comments, commands separated by newlines and `;`), or the NUL-separated
 * /proc/PID/cmdline of a running process (taken as is). Each word keeps the 1-based line it starts on, so
 * a reader can name it in a message. Pure and browser-safe.
 */
import { InputError } from './errors.js';

/** One word of a command, with the 1-based line it starts on. */
export interface Word {
  readonly text: string;
  readonly line: number;
}

/** The commands of `text`, each a list of words; /proc/PID/cmdline (NUL-separated) is one command. */
export function commandWords(text: string, source: string): Word[][] {
  return text.includes('\0') ? [nulWords(text)] : shellCommands(text, source);
}

/** The base name of a command's first word (`/usr/bin/qemu-system-x86_64` -> `qemu-system-x86_64`). */
export function commandName(word: string): string {
  return word.slice(word.lastIndexOf('/') + 1);
}

function nulWords(text: string): Word[] {
  return text
    .split('\0')
    .filter((w, i, all) => !(w === '' && i === all.length - 1))
    .map((w) => ({ text: w, line: 1 }));
}

/**
 * Shell words, split into commands at unquoted newlines and `;`: single and double quotes, backslash
 * escapes, backslash-newline continuation, `#` comments at the start of a word.
 */
function shellCommands(text: string, source: string): Word[][] {
  const commands: Word[][] = [];
  let words: Word[] = [];
  let cur = '';
  let inWord = false;
  let start = 1;
  let line = 1;
  const endWord = () => {
    if (inWord) words.push({ text: cur, line: start });
    cur = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length) commands.push(words);
    words = [];
  };
  const begin = () => {
    if (!inWord) {
      inWord = true;
      start = line;
    }
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\') {
      if (text[i + 1] === '\n') {
        line++;
        i++;
        continue;
      }
      if (text[i + 1] === '\r' && text[i + 2] === '\n') {
        line++;
        i += 2;
        continue;
      }
      begin();
      if (i + 1 < text.length) cur += text[++i];
      continue;
    }
    if (ch === "'") {
      begin();
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new InputError(`${source}: line ${line}: a ' quote is not closed`);
      const part = text.slice(i + 1, end);
      line += part.split('\n').length - 1;
      cur += part;
      i = end;
      continue;
    }
    if (ch === '"') {
      begin();
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && /["\\$`\n]/.test(text[j + 1] ?? '')) {
          if (text[j + 1] === '\n') line++;
          else cur += text[j + 1];
          j++;
          continue;
        }
        if (text[j] === '\n') line++;
        cur += text[j];
      }
      if (j >= text.length) throw new InputError(`${source}: line ${line}: a " quote is not closed`);
      i = j;
      continue;
    }
    if (ch === '\n' || ch === ';') {
      endCommand();
      if (ch === '\n') line++;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      endWord();
      continue;
    }
    if (ch === '#' && !inWord) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
      continue;
    }
    begin();
    cur += ch;
  }
  endCommand();
  return commands;
}
