/**
 * Child abort signals. Many concurrent operations sharing one `AbortSignal` each add a listener to
 * it (every stream, pipeline and SDK request), which trips Node's MaxListenersExceededWarning past
 * ten and grows with concurrency. A child per worker adds exactly one listener to the parent, held
 * only while the worker runs; the operations of one transfer listen on the child.
 */

/** A signal that aborts (with the parent's reason) when `parent` does; `dispose()` detaches it. */
export function childSignal(parent: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, dispose: () => undefined };
  }
  const onAbort = (): void => controller.abort(parent.reason);
  parent.addEventListener("abort", onAbort, { once: true });
  return { signal: controller.signal, dispose: () => parent.removeEventListener("abort", onAbort) };
}
