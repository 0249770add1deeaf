// Compiles the test programs of broker/test/java against jars fetched from Maven Central (by
// scripts/maven-deps.sh) and runs them asynchronously, so the brokers' output keeps flowing into
// the test process while Java runs.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Fetches the pom's jars (once), compiles the sources (paths from the repository's root) afresh
 * into a folder of this checkout and these sources (reused by the next run, so none pile up) and
 * returns the classpath.
 */
export function compileJava(pom: string, lib: string, sources: string[]): string {
  execFileSync('sh', [join(ROOT, 'scripts/maven-deps.sh'), pom, lib], { stdio: 'inherit' });
  const jars = `${join(ROOT, lib)}/*`;
  const classes = join(tmpdir(), `samsa-java-${createHash('sha256').update([ROOT, ...sources].join('\n')).digest('hex').slice(0, 16)}`);
  rmSync(classes, { recursive: true, force: true });
  mkdirSync(classes);
  execFileSync('javac', ['-d', classes, '-cp', jars, ...sources.map((s) => join(ROOT, s))], { stdio: 'inherit' });
  return `${classes}:${jars}`;
}

/** Runs a main class to its end; rejects with its output when it fails. */
export function runJava(classpath: string, mainClass: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolveRun, reject) => {
    execFile('java', ['-Xmx256M', '-cp', classpath, mainClass, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${mainClass} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolveRun(stdout);
    });
  });
}

/** The last line of a program's output, parsed as JSON. */
export function lastJsonLine<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

/** A main class left running: its output so far, and a wait for a line of it. */
export class JavaProcess {
  readonly child: ChildProcess;
  output = '';

  constructor(classpath: string, mainClass: string, args: string[]) {
    this.child = spawn('java', ['-Xmx256M', '-cp', classpath, mainClass, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  /** Resolves once the output matches; rejects when the program exits first or time runs out. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.output);
      if (match) return match;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`java exited before ${pattern}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`java did not print ${pattern} within ${timeoutMs / 1000}s:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves with the exit code once the program has ended. */
  exited(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((r) => this.child.once('exit', (code) => r(code)));
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }
}
