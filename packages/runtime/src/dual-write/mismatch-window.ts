/** The outcome of the last `size` comparisons of phase 3, for the rate that gates phase 4. */
export class MismatchWindow {
  private readonly outcomes: boolean[] = [];
  private next = 0;
  private mismatchCount = 0;

  constructor(readonly size: number) {}

  record(mismatch: boolean): void {
    if (this.outcomes.length < this.size) {
      this.outcomes.push(mismatch);
    } else {
      if (this.outcomes[this.next]) this.mismatchCount--;
      this.outcomes[this.next] = mismatch;
    }
    if (mismatch) this.mismatchCount++;
    this.next = (this.next + 1) % this.size;
  }

  get comparisons(): number {
    return this.outcomes.length;
  }

  get mismatches(): number {
    return this.mismatchCount;
  }

  get rate(): number {
    return this.outcomes.length === 0 ? 0 : this.mismatchCount / this.outcomes.length;
  }

  clear(): void {
    this.outcomes.length = 0;
    this.next = 0;
    this.mismatchCount = 0;
  }
}
