// Reading a broker pod's failure from container statuses as a kubelet writes them (the
// integration tests in operator/test/cluster-status.test.ts get them from the LocalKubelet).
import { describe, expect, it } from 'vitest';
import { brokerFailure, lastLogLine } from './pod-failures.js';

const crash = { exitCode: 1, reason: 'Error', message: '{"level":60,"time":1,"pid":7,"err":{"message":"EACCES: permission denied"},"msg":"broker failed to start"}\n' };

describe('brokerFailure', () => {
  it('names an image that cannot be pulled, keeping the pull error through the back-off', () => {
    const pulled = brokerFailure({ containerStatuses: [{ name: 'broker', image: 'samsa:nope', ready: false, state: { waiting: { reason: 'ErrImagePull', message: 'failed to pull "docker.io/library/samsa:nope": not found' } } }] }, undefined);
    expect(pulled).toEqual({ reason: 'ImagePullFailed', message: 'ErrImagePull: failed to pull "docker.io/library/samsa:nope": not found' });
    const backOff = (image: string) => ({ containerStatuses: [{ name: 'broker', image, ready: false, state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } } }] });
    expect(brokerFailure(backOff('samsa:nope'), pulled!)).toEqual(pulled);
    expect(brokerFailure(backOff('samsa:nope'), undefined)).toEqual({ reason: 'ImagePullFailed', message: 'ImagePullBackOff: Back-off pulling image "samsa:nope"' });
    // Another image: the old pull error says nothing about it.
    expect(brokerFailure(backOff('samsa:other'), pulled!)).toEqual({ reason: 'ImagePullFailed', message: 'ImagePullBackOff: Back-off pulling image "samsa:other"' });
  });

  it('names a crash loop by the exit code and the last log line, also while the restarted broker is not ready yet', () => {
    const looping = brokerFailure({ containerStatuses: [{ name: 'broker', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }, lastState: { terminated: crash } }] }, undefined);
    expect(looping).toEqual({ reason: 'CrashLoopBackOff', message: 'exited with code 1: broker failed to start: EACCES: permission denied' });
    const between = { containerStatuses: [{ name: 'broker', ready: false, restartCount: 4, state: { running: {} }, lastState: { terminated: crash } }] };
    expect(brokerFailure(between, looping!)).toEqual(looping);
    // A broker that crashed once and is starting again is not failing until the kubelet says so.
    expect(brokerFailure(between, undefined)).toBeNull();
  });

  it('reports nothing for a ready or starting broker', () => {
    expect(brokerFailure({ containerStatuses: [{ name: 'broker', ready: true, state: { running: {} }, lastState: { terminated: crash } }] }, { reason: 'CrashLoopBackOff', message: 'x' })).toBeNull();
    expect(brokerFailure({ containerStatuses: [{ name: 'broker', ready: false, state: { waiting: { reason: 'ContainerCreating' } } }] }, undefined)).toBeNull();
    expect(brokerFailure({}, undefined)).toBeNull();
  });

  it('passes other waiting reasons on as they are', () => {
    expect(brokerFailure({ containerStatuses: [{ name: 'broker', ready: false, state: { waiting: { reason: 'CreateContainerConfigError', message: 'configmap "x" not found' } } }] }, undefined)).toEqual({
      reason: 'CreateContainerConfigError',
      message: 'configmap "x" not found',
    });
  });
});

describe('lastLogLine', () => {
  it('skips stack frames and the Node.js trailer of an uncaught error', () => {
    const uncaught = 'file:///app/dist/x.js:20\n    throw new Error(m);\n    ^\n\nError: metadata file /d/metadata.json is not valid JSON: Unexpected token\n    at new FileMetadataStore (file:///x.js:20:15)\n    at main (file:///y.js:1:1)\n\nNode.js v24.11.0\n';
    expect(lastLogLine(uncaught)).toBe('Error: metadata file /d/metadata.json is not valid JSON: Unexpected token');
    expect(lastLogLine('samsa-broker: unknown broker config "x"\n')).toBe('samsa-broker: unknown broker config "x"');
    expect(lastLogLine('')).toBeUndefined();
  });
});
