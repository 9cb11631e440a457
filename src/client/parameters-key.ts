// A client's session parameters as one comparable string: two clients with equal keys need the
// same SET on a server, so a server found to match one key matches every client with it.

/** the parameters as one comparable string, case-insensitive in values, as server/parameter-sync.ts compares them */
export function parametersKey(parameters: Map<string, string>): string {
  let key = '';
  for (const [name, value] of parameters) key += `${name}\0${value.toLowerCase()}\0`;
  return key;
}
