// A node:test reporter for the client-suite runner: one JSON line per finished test (suites
// left out), with its file, name, nesting and outcome, so that results can be compared by name.
export default async function* reporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    if (data.details?.type === 'suite') continue;
    const status = data.skip !== undefined && data.skip !== false ? 'skip' : data.todo !== undefined && data.todo !== false ? 'todo' : event.type === 'test:pass' ? 'pass' : 'fail';
    const error = status === 'fail' ? describeError(data.details?.error) : undefined;
    yield JSON.stringify({ file: data.file, name: data.name, nesting: data.nesting, status, ms: Math.round(data.details?.duration_ms ?? 0), error }) + '\n';
  }
}

/** The failure's own message: node:test wraps it in a 'testCodeFailure' error whose cause is the thrown one. */
function describeError(error) {
  if (!error) return undefined;
  const cause = error.cause ?? error;
  const message = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return message.split('\n').slice(0, 40).join('\n').slice(0, 3000);
}
