/**
 * A primitive's events for HTTP clients, who cannot hold a listener: the agent listens once per
 * primitive and keeps the last {@linkcode FEED_BUFFER} events, each numbered. A client reads
 * them as Server-Sent Events (a stream, `id:` the number, so `Last-Event-ID` resumes) or by long
 * poll (`?after=N`: the events after N, waiting for the next one if there are none yet). A
 * client that falls more than the buffer behind is told how many it missed.
 *
 * @module
 */

/** Events kept per primitive for clients that come back for them. */
export const FEED_BUFFER = 100;

/** One numbered event. */
export interface FeedItem<E> {
  /** Its number, from 1, in the order the agent heard them. */
  readonly seq: number;
  /** The event. */
  readonly event: E;
}

/** What a reader gets: the events after its number, and how many it missed. */
export interface FeedRead<E> {
  /** The events, oldest first. */
  readonly events: readonly FeedItem<E>[];
  /** Events after the reader's number that are no longer kept. */
  readonly missed: number;
  /** The number to ask after next time. */
  readonly last: number;
}

/** The events of one primitive, numbered, the last {@linkcode FEED_BUFFER} kept. */
export class EventFeed<E> {
  readonly #items: FeedItem<E>[] = [];
  readonly #subscribers = new Set<(item: FeedItem<E>) => void>();
  #seq = 0;

  /** The number of the newest event (0 before the first). */
  get last(): number {
    return this.#seq;
  }

  /**
   * Adds an event and hands it to every subscriber.
   *
   * @param event The event.
   */
  push(event: E): void {
    const item = { seq: ++this.#seq, event };
    this.#items.push(item);
    if (this.#items.length > FEED_BUFFER) this.#items.shift();
    for (const s of this.#subscribers) s(item);
  }

  /**
   * The kept events after `after`.
   *
   * @param after The last number the reader has seen.
   * @returns The events and how many were missed.
   */
  since(after: number): FeedRead<E> {
    const from = Math.max(0, Math.min(after, this.#seq));
    const oldest = this.#items[0]?.seq ?? this.#seq + 1;
    const events = this.#items.filter((i) => i.seq > from);
    return { events, missed: Math.max(0, oldest - from - 1), last: this.#seq };
  }

  /**
   * Waits for events after `after`: at once if there are some, else for the next one, the
   * timeout, or the signal.
   *
   * @param after The last number the reader has seen.
   * @param timeoutMs How long to wait.
   * @param signal Ends the wait early (the client went away).
   * @returns The events (none if the wait ended without one).
   */
  next(after: number, timeoutMs: number, signal?: AbortSignal): Promise<FeedRead<E>> {
    const now = this.since(after);
    if (now.events.length > 0 || now.missed > 0 || signal?.aborted) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener("abort", done);
        resolve(this.since(after));
      };
      const timer = setTimeout(done, timeoutMs);
      const unsubscribe = this.subscribe(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /**
   * Calls `subscriber` with each new event until the returned function is called.
   *
   * @param subscriber Called with each event.
   * @returns Unsubscribes.
   */
  subscribe(subscriber: (item: FeedItem<E>) => void): () => void {
    const s = (item: FeedItem<E>) => subscriber(item);
    this.#subscribers.add(s);
    return () => this.#subscribers.delete(s);
  }

  /** Subscribers now (streams and waiting polls). */
  get subscribers(): number {
    return this.#subscribers.size;
  }
}

const encoder = new TextEncoder();

/**
 * A `text/event-stream` response of a feed: the kept events after `after`, then each new one,
 * until the client goes away. A comment line every `keepAliveMs` keeps proxies from closing an
 * idle stream.
 *
 * @param feed The feed.
 * @param after The last number the client has seen (`Last-Event-ID`), or the feed's newest.
 * @param signal The request's signal.
 * @param keepAliveMs Interval of the keep-alive comments.
 * @param onEnd Called once when the stream ends.
 * @returns The streaming response.
 */
export function sseResponse<E extends { readonly type: string }>(
  feed: EventFeed<E>,
  after: number,
  signal: AbortSignal | undefined,
  keepAliveMs = 15_000,
  onEnd: () => void = () => {},
): Response {
  let ended = false;
  let stop = () => {
    if (!ended) onEnd();
    ended = true;
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          stop();
        }
      };
      const write = (item: FeedItem<E>) =>
        send(`id: ${item.seq}\nevent: ${item.event.type}\ndata: ${JSON.stringify(item.event)}\n\n`);
      const first = feed.since(after);
      if (first.missed > 0) send(`event: MISSED\ndata: ${JSON.stringify(first.missed)}\n\n`);
      for (const item of first.events) write(item);
      const unsubscribe = feed.subscribe(write);
      const timer = setInterval(() => send(": keep-alive\n\n"), keepAliveMs);
      stop = () => {
        if (ended) return;
        ended = true;
        clearInterval(timer);
        unsubscribe();
        signal?.removeEventListener("abort", close);
        onEnd();
      };
      const close = () => {
        stop();
        try {
          controller.close();
        } catch { /* already closed */ }
      };
      signal?.addEventListener("abort", close, { once: true });
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}
