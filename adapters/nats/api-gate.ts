/**
 * At most `limit` JetStream API requests of one transport in flight; the others wait their turn
 * here. The server answers them one after another, and each request's timeout (`apiTimeoutMs`)
 * runs from when it is sent: a burst sent at once (thousands of actors' mailboxes declared
 * together) would time out in the server's queue, where waiting here costs nothing.
 */
export class ApiGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(request: () => Promise<T>): Promise<T> {
    // A slot freed by `release` passes straight to the first waiter.
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active += 1;
    try {
      return await request();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active -= 1;
  }
}
