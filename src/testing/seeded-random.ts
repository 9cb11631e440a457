// Test-only: a repeatable source of numbers in [0, 1) (xorshift32) for code that takes a Random,
// so a distribution test sees the same sequence on every run.

export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}
