// A promise made on first use and shared by every later caller; a failure is forgotten, so asking
// again retries (a download that broke, a file that was fixed).

export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | null = null;
  return () => {
    if (!p) {
      p = make();
      p.catch(() => (p = null));
    }
    return p;
  };
}
