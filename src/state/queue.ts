// A counting semaphore: bounds how many crafts build at once (cargo and nix use every core).
// A finished task hands its slot straight to the next waiter, so the bound always holds.

export class BuildQueue {
  private running = 0;
  private waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  private async acquire(signal: AbortSignal, onQueued: (ahead: number) => void): Promise<void> {
    signal.throwIfAborted();
    if (this.running < this.limit) {
      this.running += 1;
      return;
    }
    onQueued(this.waiting.length + 1);
    await new Promise<void>((resolve, reject) => {
      const go = () => {
        signal.removeEventListener("abort", cancel);
        resolve();
      };
      const cancel = () => {
        this.waiting = this.waiting.filter((w) => w !== go);
        reject(signal.reason ?? new Error("cancelled"));
      };
      this.waiting.push(go);
      signal.addEventListener("abort", cancel, { once: true });
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running -= 1;
  }

  async run<T>(signal: AbortSignal, onQueued: (ahead: number) => void, task: () => Promise<T>): Promise<T> {
    await this.acquire(signal, onQueued);
    try {
      return await task();
    } finally {
      this.release();
    }
  }
}
