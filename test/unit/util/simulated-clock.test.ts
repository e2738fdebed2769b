import { SimulatedClock } from '../../../src/util/simulated-clock';
import { sleep } from '../../../src/util/clock';

describe('SimulatedClock', () => {
  it('runs timers in due order, intervals repeatedly, and never before their time', async () => {
    const clock = new SimulatedClock(1000);
    const log: string[] = [];
    clock.setTimeout(() => log.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => log.push(`a@${clock.now()}`), 10);
    const every = clock.setInterval(() => log.push(`i@${clock.now()}`), 15);
    await clock.advance(9);
    expect(log).toEqual([]);
    await clock.advance(31);
    expect(log).toEqual(['a@1010', 'i@1015', 'b@1020', 'i@1030']);
    clock.clear(every);
    await clock.advance(100);
    expect(log).toHaveLength(4);
    expect(clock.now()).toBe(1140);
    expect(clock.pending).toBe(0);
  });

  it('runs timers set by timers, and promise chains between them', async () => {
    const clock = new SimulatedClock();
    const seen: number[] = [];
    void sleep(clock, 5).then(async () => {
      seen.push(clock.now());
      await sleep(clock, 5);
      seen.push(clock.now());
    });
    await clock.advance(10);
    expect(seen).toEqual([5, 10]);
  });
});
