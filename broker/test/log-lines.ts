// Reading a process's pino output as written: JSON.parse keeps only the last of a repeated key,
// so repeated keys are found by scanning the raw text.

/** The JSON lines of a process's output. */
export function jsonLines(output: string): string[] {
  return output.split('\n').filter((l) => l.startsWith('{'));
}

/** The keys of a JSON object's top level as they appear in the text, repeats included. */
export function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let end = i + 1;
      while (end < json.length && json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        keys.push(JSON.parse(json.slice(i, end + 1)) as string);
        expectKey = false;
      }
      i = end;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}

/** Keys that appear more than once at the top level of `json`. */
export function repeatedKeys(json: string): string[] {
  const keys = topLevelKeys(json);
  return keys.filter((k, i) => keys.indexOf(k) !== i);
}
