/** Coalesce several trait changes delivered in one message into one redraw. */
export function coalesce(fn: () => void): { schedule: () => void; cancel: () => void } {
  let pending = false;
  let alive = true;
  return {
    schedule() {
      if (pending || !alive) return;
      pending = true;
      queueMicrotask(() => {
        pending = false;
        if (alive) fn();
      });
    },
    cancel() {
      alive = false;
    },
  };
}
