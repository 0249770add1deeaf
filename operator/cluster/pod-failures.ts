// What is wrong with a broker pod, read from its container status as the kubelet reports it:
// an image that cannot be pulled, a broker that keeps exiting (with its exit code and the last
// line of its output, which FallbackToLogsOnError puts in the termination message), or another
// reason the container waits. Messages are kept stable so that status changes only when the
// failure does.

export interface ContainerStatus {
  name: string;
  image?: string;
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string }; running?: { startedAt?: string }; terminated?: { exitCode: number; reason?: string; message?: string } };
  lastState?: { terminated?: { exitCode: number; reason?: string; message?: string } };
}

export interface PodStatus {
  containerStatuses?: ContainerStatus[];
}

export interface BrokerFailure {
  reason: string;
  message: string;
}

// Waiting reasons of a container that is on its way up.
const STARTING = new Set(['ContainerCreating', 'PodInitializing']);
const IMAGE_PULL = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
const MAX_LINE = 300;

/** The last line of a container's output that says something: pino lines by their message, no stack frames. */
export function lastLogLine(output: string | undefined): string | undefined {
  const lines = (output ?? '').split('\n').map((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (line === '' || line.startsWith('at ') || /^Node\.js v\d/.test(line) || /^\^+$/.test(line)) continue;
    return (pinoMessage(line) ?? line).slice(0, MAX_LINE);
  }
  return undefined;
}

function pinoMessage(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const record = JSON.parse(line) as { msg?: unknown; err?: { message?: unknown } };
    if (typeof record.msg !== 'string') return undefined;
    return typeof record.err?.message === 'string' ? `${record.msg}: ${record.err.message}` : record.msg;
  } catch {
    return undefined;
  }
}

function describeExit(terminated: { exitCode: number; message?: string } | undefined): string | undefined {
  if (!terminated) return undefined;
  const line = lastLogLine(terminated.message);
  return `exited with code ${terminated.exitCode}${line ? `: ${line}` : ''}`;
}

/** Why the broker container of a pod is failing, or null when it is ready or only starting. */
export function brokerFailure(status: PodStatus | undefined, previous: Partial<BrokerFailure> | undefined): BrokerFailure | null {
  const container = status?.containerStatuses?.find((c) => c.name === 'broker');
  if (!container || container.ready) return null;
  const waiting = container.state?.waiting;
  const exit = describeExit(container.lastState?.terminated);
  if (waiting?.reason && IMAGE_PULL.has(waiting.reason)) {
    // ImagePullBackOff only says that the kubelet waits; the failed pull of this image said why: keep that.
    const samePull = previous?.reason === 'ImagePullFailed' && container.image !== undefined && previous.message?.includes(container.image);
    if (waiting.reason === 'ImagePullBackOff' && samePull) return { reason: 'ImagePullFailed', message: previous!.message! };
    return { reason: 'ImagePullFailed', message: `${waiting.reason}: ${waiting.message ?? 'the image cannot be pulled'}` };
  }
  // The kubelet's back-off message changes with every restart; the exit does not.
  if (waiting?.reason === 'CrashLoopBackOff') return { reason: 'CrashLoopBackOff', message: exit ?? waiting.message ?? 'the broker keeps exiting' };
  if (waiting?.reason && !STARTING.has(waiting.reason)) return { reason: waiting.reason, message: [waiting.message, exit].filter(Boolean).join('; ') };
  // Between two crashes the restarted broker runs (or has just exited) without being ready: the same crash loop.
  if (previous?.reason === 'CrashLoopBackOff' && previous.message && (container.lastState?.terminated?.exitCode ?? 0) !== 0) return { reason: 'CrashLoopBackOff', message: previous.message };
  return null;
}
