// Remote code and the error class it throws, in an ES module that a program imports
// (error-class-esm.mjs): the class travels by identity, [this module, 'QuotaError'].
import ray from 'raybus';

export class QuotaError extends Error {
  constructor(user, limit) {
    super(`${user} is over the quota of ${limit}`);
    this.name = 'QuotaError';
    this.user = user;
    this.limit = limit;
  }
}

export const spend = ray.remote((user) => {
  throw new QuotaError(user, 10);
});

export const Wallet = ray.remote(
  class Wallet {
    spend(user) {
      throw new QuotaError(user, 20);
    }
  },
);
